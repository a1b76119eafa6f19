// `#[debug_handler]` on either side of `#[cached_route]`, on handlers whose
// first parameter is `State<T>` and with no `state = …`: debug_handler
// infers the state from that parameter, which the macro wraps.
use axum::{
    debug_handler,
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::sync::Arc;

struct AppContext {
    greeting: String,
}

#[axum::debug_handler]
#[cached_route(ttl = 60)]
async fn above(State(ctx): State<Arc<AppContext>>, Path(id): Path<u32>) -> Json<String> {
    Json(format!("{} {id}", ctx.greeting))
}

#[cached_route(ttl = 60)]
#[axum::debug_handler]
async fn below(State(ctx): State<Arc<AppContext>>, Path(id): Path<u32>) -> Json<String> {
    Json(format!("{} {id}", ctx.greeting))
}

#[cached_route(ttl = 60)]
#[debug_handler]
async fn below_imported(State(ctx): State<Arc<AppContext>>) -> String {
    ctx.greeting.clone()
}

#[cached_route(ttl = 60)]
#[axum::debug_handler]
async fn state_only(State(ctx): State<Arc<AppContext>>) -> String {
    ctx.greeting.clone()
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a/{id}", get(above))
        .route("/b/{id}", get(below))
        .route("/c", get(below_imported))
        .route("/d", get(state_only))
        .with_state(Arc::new(AppContext {
            greeting: "hi".to_owned(),
        }))
        .layer(RouteCache::embedded().layer());
}

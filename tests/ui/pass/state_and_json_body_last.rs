use axum::{
    extract::{Query, State},
    http::HeaderMap,
    routing::post,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::collections::HashMap;

#[derive(Clone)]
struct AppState {
    greeting: String,
}

#[cached_route(ttl = 60)]
async fn handler(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "greeting": state.greeting,
        "q": q.len(),
        "h": headers.len(),
        "body": body,
    }))
}

pub fn main() {
    let cache = RouteCache::embedded();
    let _app: Router = Router::new()
        .route("/", post(handler))
        .with_state(AppState {
            greeting: "hi".into(),
        })
        .layer(cache.layer());
}

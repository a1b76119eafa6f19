use axum::{
    extract::{Path, State},
    http::HeaderMap,
    routing::get,
    Router,
};
use cache_runtime::{cached_route, RouteCache};

#[cached_route(ttl = 60, revalidate = true)]
async fn report(State(version): State<u32>, Path(id): Path<u32>, headers: HeaderMap) -> String {
    format!("{version} {id} {}", headers.len())
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/reports/{id}", get(report))
        .with_state(7u32)
        .layer(RouteCache::embedded().layer());
}

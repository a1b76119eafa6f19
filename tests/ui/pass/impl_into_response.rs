use axum::{http::StatusCode, response::IntoResponse, Json};
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn plain() -> impl IntoResponse {
    (StatusCode::OK, Json(1))
}

#[cached_route(ttl = 60)]
async fn tuple() -> (StatusCode, Json<u8>) {
    (StatusCode::CREATED, Json(2))
}

pub fn main() {
    let _ = (plain, tuple);
}

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn status(State(version): State<&'static str>, Json(body): Json<u32>) -> impl IntoResponse {
    (StatusCode::OK, Json((version, body)))
}

fn main() {}

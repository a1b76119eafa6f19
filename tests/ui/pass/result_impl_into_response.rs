use axum::{http::StatusCode, response::IntoResponse, Json};
use cache_runtime::cached_route;

fn parse(s: &str) -> Result<u32, StatusCode> {
    s.parse().map_err(|_| StatusCode::BAD_REQUEST)
}

#[cached_route(ttl = 60)]
async fn handler() -> Result<impl IntoResponse, StatusCode> {
    let n = parse("1")?;
    if n > 10 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(Json(n))
}

pub fn main() {
    let _ = handler;
}

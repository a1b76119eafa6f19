use axum::{extract::Path, http::StatusCode, Json};
use cache_runtime::cached_route;

fn check(id: u64) -> Result<u64, StatusCode> {
    if id == 0 { Err(StatusCode::NOT_FOUND) } else { Ok(id) }
}

#[cached_route(ttl = 60)]
async fn get_item(Path(id): Path<u64>) -> Result<Json<u64>, StatusCode> {
    let id = check(id)?;
    Ok(Json(id))
}

fn main() {}

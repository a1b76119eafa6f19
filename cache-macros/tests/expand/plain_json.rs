use axum::{extract::Path, Json};
use cache_runtime::cached_route;

/// An item by id.
#[cached_route(ttl = 3600)]
pub async fn get_item(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

fn main() {}

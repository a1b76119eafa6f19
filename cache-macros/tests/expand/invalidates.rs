use axum::{extract::Path, http::StatusCode};
use cache_runtime::invalidates;

#[invalidates(tags = ["item:{id}"], paths = ["/items", "/items/{id}"])]
async fn update(Path(id): Path<u64>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

fn main() {}

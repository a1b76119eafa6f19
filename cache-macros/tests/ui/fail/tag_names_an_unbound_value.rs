use axum::extract::Path;
use cache_runtime::cached_route;

#[cached_route(ttl = 60, tags = ["item:{item_id}"])]
async fn handler(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}

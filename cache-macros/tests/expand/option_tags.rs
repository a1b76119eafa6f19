use axum::extract::Path;
use cache_runtime::cached_route;

#[cached_route(ttl = 60, tags = ["item:{id}", "items"])]
async fn handler(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}

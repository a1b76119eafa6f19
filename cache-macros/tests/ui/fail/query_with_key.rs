use axum::extract::Path;
use cache_runtime::cached_route;

#[cached_route(ttl = 60, key = id, query = none)]
async fn handler(Path(id): Path<u32>) -> String {
    id.to_string()
}

fn main() {}

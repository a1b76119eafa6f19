use axum::extract::Path;
use cache_runtime::cached_route;

/// Neither a function of the request parts nor a `Display` value.
const PAIR: (u8, u8) = (1, 2);

#[cached_route(ttl = 60, key = PAIR)]
async fn handler(Path(id): Path<u32>) -> String {
    id.to_string()
}

fn main() {}

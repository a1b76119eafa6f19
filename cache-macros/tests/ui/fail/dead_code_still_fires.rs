#![deny(dead_code)]
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn unused_handler() -> &'static str {
    "x"
}

fn main() {}

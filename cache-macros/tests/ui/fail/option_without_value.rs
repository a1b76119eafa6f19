use cache_runtime::cached_route;

#[cached_route(ttl)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

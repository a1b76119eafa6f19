use cache_runtime::cached_route;

#[cached_route(ttl = 60, negative_ttl = 10)]
async fn handler() -> &'static str {
    "a"
}

fn main() {}

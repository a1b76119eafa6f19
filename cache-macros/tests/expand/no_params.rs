use cache_runtime::cached_route;

#[cached_route(ttl = 5)]
async fn health() -> &'static str {
    "ok"
}

fn main() {}

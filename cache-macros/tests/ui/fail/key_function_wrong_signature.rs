use cache_runtime::cached_route;

fn by_nothing() -> String {
    String::new()
}

#[cached_route(ttl = 60, key = by_nothing)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

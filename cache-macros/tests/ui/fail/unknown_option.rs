use cache_runtime::cached_route;

#[cached_route(ttl = 60, tll = 5)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, shared = true, private = true)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, max_body = 65536)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

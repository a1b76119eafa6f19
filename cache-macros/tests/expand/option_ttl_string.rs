use cache_runtime::cached_route;

#[cached_route(ttl = "10m")]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

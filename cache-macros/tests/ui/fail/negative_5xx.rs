use cache_runtime::cached_route;

#[cached_route(ttl = 60, negative = [404, 503, 304, 201])]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

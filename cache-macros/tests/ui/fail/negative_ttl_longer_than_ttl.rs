use cache_runtime::cached_route;

#[cached_route(ttl = 60, negative = [404], negative_ttl = 120)]
async fn handler() -> &'static str {
    "b"
}

fn main() {}

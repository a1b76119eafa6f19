use cache_runtime::cached_route;

#[cached_route(ttl = 60, vary = ["Accept-Language", "accept"])]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

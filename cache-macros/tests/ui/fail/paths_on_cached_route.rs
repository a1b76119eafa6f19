use cache_runtime::cached_route;

#[cached_route(ttl = 60, paths = ["/items"])]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, namespace = "v2")]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

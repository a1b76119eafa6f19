use cache_runtime::cached_route;

#[cached_route(namespace = "a")]
async fn handler() -> &'static str {
    "x"
}

fn main() {}

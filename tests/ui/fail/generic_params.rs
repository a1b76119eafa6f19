use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler<T: Default>() -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
fn handler() -> &'static str {
    "x"
}

fn main() {}

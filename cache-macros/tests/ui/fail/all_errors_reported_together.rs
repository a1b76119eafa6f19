use cache_runtime::cached_route;

#[cached_route(ttl = 0, colour = "red", max_body = "big")]
fn handler<T>(x: &T) -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
struct Handler;

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 0)]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = "0s")]
async fn b() -> &'static str { "x" }

fn main() {}

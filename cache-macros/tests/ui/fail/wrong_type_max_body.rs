use cache_runtime::cached_route;

#[cached_route(ttl = 60, max_body = "1MB")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, max_body = 0)]
async fn b() -> &'static str { "x" }

fn main() {}

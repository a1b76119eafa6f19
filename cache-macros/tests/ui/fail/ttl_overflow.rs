use cache_runtime::cached_route;

#[cached_route(ttl = 4294967296)]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = "99999999999999999999d")]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = "50000d")]
async fn c() -> &'static str { "x" }

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = true)]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60u64)]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 1.5)]
async fn c() -> &'static str { "x" }

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, compress = "lz4")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, compress = true)]
async fn b() -> &'static str { "x" }

fn main() {}

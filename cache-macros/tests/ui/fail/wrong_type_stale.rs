use cache_runtime::cached_route;

#[cached_route(ttl = 60, stale = "soon")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, stale = -1)]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 60, stale_if_error = "yes")]
async fn c() -> &'static str { "x" }

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, namespace = v2)]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, namespace = "has:colon")]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 60, namespace = "")]
async fn c() -> &'static str { "x" }

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = "10w")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = "10")]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = "h")]
async fn c() -> &'static str { "x" }

fn main() {}

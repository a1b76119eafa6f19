use cache_runtime::cached_route;

#[cached_route(ttl = 60, vary = "accept")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, vary = ["accept language"])]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 60, vary = ["*"])]
async fn c() -> &'static str { "x" }

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 60, shared = "yes")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, private = 1)]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 60, honor_client = yes)]
async fn c() -> &'static str { "x" }

#[cached_route(ttl = 60, cache_control = public)]
async fn d() -> &'static str { "x" }

#[cached_route(ttl = 60, cache_control = "public,\nmax-age=1")]
async fn e() -> &'static str { "x" }

fn main() {}

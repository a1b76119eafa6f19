use cache_runtime::cached_route;

#[cached_route(ttl = 60, query = "page")]
async fn a() -> &'static str { "x" }

#[cached_route(ttl = 60, query = [page])]
async fn b() -> &'static str { "x" }

#[cached_route(ttl = 60, query = [])]
async fn c() -> &'static str { "x" }

#[cached_route(ttl = 60, query = ["page", "page"])]
async fn d() -> &'static str { "x" }

fn main() {}

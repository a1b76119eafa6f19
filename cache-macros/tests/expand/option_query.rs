use cache_runtime::cached_route;

#[cached_route(ttl = 60, query = ["page", "limit"])]
async fn listed() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, query = none)]
async fn ignored() -> &'static str {
    "x"
}

fn main() {}

use cache_runtime::cached_route;

#[cached_route(ttl = 5, refresh_ahead = 0.8)]
async fn clock() -> &'static str {
    "now"
}

fn main() {}

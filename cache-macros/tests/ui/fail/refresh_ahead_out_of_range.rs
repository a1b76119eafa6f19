use cache_runtime::cached_route;

#[cached_route(ttl = 60, refresh_ahead = 1.5)]
async fn late() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, refresh_ahead = "soon")]
async fn vague() -> &'static str {
    "y"
}

fn main() {}

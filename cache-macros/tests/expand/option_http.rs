use cache_runtime::cached_route;

#[cached_route(ttl = 60, private = true, cache_control = "private, max-age=60", honor_client = true)]
async fn per_user() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, shared = true, stale = "30s", stale_if_error = false)]
async fn for_everyone() -> &'static str {
    "x"
}

fn main() {}

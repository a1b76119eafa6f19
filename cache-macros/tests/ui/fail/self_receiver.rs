use cache_runtime::cached_route;

struct Api;

impl Api {
    #[cached_route(ttl = 60)]
    async fn handler(&self) -> &'static str {
        "x"
    }
}

fn main() {}

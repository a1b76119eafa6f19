use cache_runtime::cached_route;

struct Api;

impl Api {
    fn name() -> &'static str {
        "api"
    }

    #[cached_route(ttl = 60)]
    async fn handler() -> &'static str {
        Self::name()
    }
}

fn main() {}

use cache_runtime::{route, RouteCache};

async fn plain() -> &'static str {
    "x"
}

async fn demo(cache: RouteCache) {
    let _ = cache.invalidate_route::<route!(plain)>().await;
}

fn main() {}

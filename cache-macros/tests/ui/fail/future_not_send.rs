use cache_runtime::cached_route;
use std::rc::Rc;

#[cached_route(ttl = 60)]
async fn handler() -> String {
    let shared = Rc::new(5);
    tokio::task::yield_now().await;
    shared.to_string()
}

fn main() {}

// The function is still emitted next to the error: `main` can call it and
// no "cannot find function" error follows the argument error.
use cache_runtime::cached_route;

#[cached_route(ttl = "soon")]
async fn handler() -> &'static str {
    "x"
}

fn main() {
    let _future = handler();
}

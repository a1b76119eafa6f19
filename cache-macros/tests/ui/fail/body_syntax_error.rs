// A syntax error inside the body is rustc's to report, at its place: the
// macro keeps the body as tokens and does not claim the item is no
// function.
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler() -> &'static str {
    let x = ;
    "x"
}

fn main() {}

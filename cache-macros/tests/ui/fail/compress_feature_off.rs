// The suite builds cache-runtime without its `brotli` feature: asking a
// route for it is a compile error at the option, not a surprise at run time.
use cache_runtime::cached_route;

#[cached_route(ttl = 60, compress = "br")]
async fn a() -> &'static str { "x" }

fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(a));
}

use axum::http::{HeaderMap, Method, Uri};
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler(
    _a: Method, _b: Uri, _c: HeaderMap, _d: Method, _e: Uri, _f: HeaderMap,
    _g: Method, _h: Uri, _i: HeaderMap, _j: Method, _k: Uri, _l: HeaderMap,
    _m: Method, _n: Uri, _o: HeaderMap, _p: Method, _q: Uri,
) -> &'static str {
    "x"
}

fn main() {}

//! A fixed workload for instruction-count profiling of the hit path:
//! `valgrind --tool=callgrind target/release/hit-profile <mode> [n]`.
//!
//! Modes: `static` (a precomputed body through the same router machinery:
//! the ceiling), `embedded` (a `#[cached_route]` hit on the in-process
//! store), `redis-get` (the hand-written handler doing one Redis `GET`) and
//! `redis` (a `#[cached_route]` hit on Redis), `two-tier` (a hit on the L1
//! in front of Redis, once its channel is live) and `cached-crate` (the
//! peer: the `cached` crate's Redis-backed macro); the last four use `REDIS_URL`
//! (default `redis://127.0.0.1:6379`), and callgrind counts only this
//! process's instructions, not Redis's. The cached modes put the cache's
//! layer around the whole router (`cache.layer().layer(router)`, one
//! service per application); `embedded-route-layer` is the embedded hit
//! with the layer applied by `Router::layer` instead (axum wraps every
//! route in it), and `static-route-layer` the static handler with that
//! layer (what axum's per-route layering costs any layer). Each runs `n`
//! (default 20000) requests through `tower::ServiceExt::oneshot` on a
//! current-thread runtime, after one warm-up request, with the request
//! target in a shared buffer as hyper's parser leaves it and a `Host`
//! field (every HTTP/1.1 request has one), on a router
//! finalised with `with_state(())` as `axum::serve` finalises it for each
//! connection, so the difference per request between a mode and its
//! baseline is the cache's own cost. With `RECORDER=prometheus`, a
//! Prometheus recorder collects the metrics; with
//! `ACCEPT_ENCODING=<value>`, every request sends that `Accept-Encoding`
//! (a browser's is `gzip, deflate, br, zstd`), which the cache parses.

use axum::{body::Body, extract::Path, http::Request, routing::get, Json, Router};
use bytes::Bytes;
use cache_runtime::{cached_route, RouteCache};
use route_cache_bench::{
    cached_crate_item, hand_cache_router, item, redis_get_router, set_redis_url,
    static_fields_router, App, Item,
};
use std::convert::Infallible;
use tower::ServiceExt;

#[cached_route(ttl = 3600)]
async fn cached(Path(id): Path<u64>) -> Json<Item> {
    Json(item(id))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mode, n, app) = runtime.block_on(setup());
    let total = match app {
        App::Router(app) => requests(&runtime, &app, n),
        App::Around(app) => requests(&runtime, &app, n),
    };
    println!("{mode}: {n} requests, {total} bytes");
}

async fn setup() -> (String, usize, App) {
    if std::env::var_os("SIZES").is_some() {
        sizes();
    }
    // With `RECORDER=prometheus`, a recorder is installed before any cache
    // is built (what the metrics cost on a hit when they are collected).
    if std::env::var("RECORDER").as_deref() == Ok("prometheus") {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("install the Prometheus recorder");
    }
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "embedded".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let body = Bytes::from(serde_json::to_vec(&item(7)).unwrap());
    let app: Router = match mode.as_str() {
        "static" => static_router(body),
        // The static handler behind the cache's layer applied by
        // `Router::layer`: what axum's per-route layering costs any layer.
        "static-route-layer" => static_router(body).layer(RouteCache::embedded().layer()),
        "embedded" => return around(mode, n, &RouteCache::embedded()),
        // The same hit with the layer applied by `Router::layer`, which
        // axum applies to every route: one more boxed service clone, route
        // future and request extension map entry per request.
        "embedded-route-layer" => cached_router().layer(RouteCache::embedded().layer()),
        // The embedded hit with an explain header configured, which these
        // requests do not carry: its cost is the layer comparing the
        // request's field names with the header's.
        "embedded-explain" => {
            let cache = RouteCache::builder()
                .explain_header("cache-explain", "profile-explain-token-0123")
                .build()
                .await
                .expect("an embedded cache");
            return around(mode, n, &cache);
        }
        // The static handler sending a fresh hit's fields, and a
        // hand-written in-process cache sending them (bench-server's modes
        // of the same names): what the fields cost, and the floor of a
        // keyed in-process hit.
        "static-fields" => static_fields_router(8),
        "hand-cache" => hand_cache_router(),
        "redis-get" => redis_get_router(&redis_url()).await,
        // A hit on Redis, or (`two-tier`) on the in-process L1 in front of
        // it, once the L1's channel is live (the L1 serves only then).
        "redis" | "two-tier" => {
            let l1 = if mode == "two-tier" { 64 << 20 } else { 0 };
            let cache = RouteCache::builder()
                .prefix("profile")
                .redis(redis_url())
                .l1_capacity(l1)
                .build()
                .await
                .expect("connect to Redis");
            if l1 > 0 {
                for _ in 0..200 {
                    if cache.stats().l1_live {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                assert!(cache.stats().l1_live, "the L1's channel did not come up");
            }
            return around(mode, n, &cache);
        }
        "cached-crate" => {
            set_redis_url(&redis_url());
            Router::new().route("/items/{id}", get(cached_crate_item))
        }
        other => {
            panic!("unknown mode {other}; modes: static, static-route-layer, static-fields, hand-cache, embedded, embedded-route-layer, embedded-explain, redis-get, redis, two-tier, cached-crate")
        }
    };
    // What `axum::serve` does once per connection: handlers become routes
    // (and the layer is applied to them) here, not on every request.
    (mode, n, App::Router(app.with_state(())))
}

/// The static handler: `body`, precomputed, for every item.
fn static_router(body: Bytes) -> Router {
    Router::new().route(
        "/items/{id}",
        get(move |Path(_id): Path<u64>| {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    )
}

/// The `#[cached_route]` handler's router.
fn cached_router() -> Router {
    Router::new().route("/items/{id}", get(cached))
}

/// The cached handler's router inside `cache`'s layer.
fn around(mode: String, n: usize, cache: &RouteCache) -> (String, usize, App) {
    (mode, n, App::around(cached_router(), cache))
}

/// The measured part: `n + 1` requests (`bench/profile.sh` counts only
/// this function's instructions, so start-up, a recorder's clock
/// calibration included, is not spread over the requests).
#[inline(never)]
fn requests<S>(runtime: &tokio::runtime::Runtime, app: &S, n: usize) -> usize
where
    S: tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible>
        + Clone,
{
    let accept = std::env::var("ACCEPT_ENCODING")
        .ok()
        .filter(|a| !a.is_empty());
    // The request target as hyper hands it to the router: a slice of its
    // shared read buffer (so a clone of the `Uri` is a reference count, not
    // the copy a `Uri` parsed from a `&str` makes on its first clone).
    let target = bytes::BytesMut::from(&b"/items/7"[..]).split().freeze();
    let total = runtime.block_on(async {
        let mut total = 0usize;
        for _ in 0..=n {
            let request = request(&target, accept.as_deref());
            let response = app.clone().oneshot(request).await.unwrap();
            total += body_len(response);
        }
        total
    });
    // Not a tail call, so that the profile's toggle stays on inside.
    std::hint::black_box(total)
}

// The client's side of each request, out of line: the same code whatever
// service [`requests`] is instantiated for, so that a mode's count differs
// from its baseline's by the service alone, not by how the compiler
// inlined the loop around it.

/// A `GET` of `target` with a `Host` (which every HTTP/1.1 request
/// carries, so that looking up a field the request lacks costs what it
/// costs on a live server), and `accept` as its `Accept-Encoding`.
#[inline(never)]
fn request(target: &Bytes, accept: Option<&str>) -> Request<Body> {
    let uri = axum::http::Uri::from_maybe_shared(target.clone()).expect("a request target");
    let mut request = Request::get(uri).header("host", HOST.clone());
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    request.body(Body::empty()).unwrap()
}

/// Reads `response`'s body to its end; its length. Every body measured
/// here is ready at once (a hit's, or the static handler's bytes).
#[inline(never)]
fn body_len(response: axum::response::Response) -> usize {
    use axum::body::HttpBody as _;
    let mut body = response.into_body();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut len = 0;
    loop {
        match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                len += frame.data_ref().map_or(0, Bytes::len);
            }
            std::task::Poll::Ready(None) => return len,
            std::task::Poll::Ready(Some(Err(e))) => panic!("the body failed: {e}"),
            std::task::Poll::Pending => panic!("a body that is not ready"),
        }
    }
}

/// The `Host` of every request, shared as hyper's parser shares it.
static HOST: axum::http::HeaderValue = axum::http::HeaderValue::from_static("127.0.0.1:3000");

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[allow(dead_code)]
fn sizes() {
    use cache_runtime::__private_0_1_0::{serve, FromCacheParts, RequestContext};
    let (parts, ()) = Request::get("/items/7").body(()).unwrap().into_parts();
    let ctx = RequestContext::<__cached_route_cached>::from_cache_parts(&parts);
    eprintln!("request context {} bytes", std::mem::size_of_val(&ctx));
    let body = async { Json(item(7)) };
    eprintln!("body future {} bytes", std::mem::size_of_val(&body));
    let fut = serve(ctx, body);
    eprintln!("serve future {} bytes", std::mem::size_of_val(&fut));
}

//! Micro-benchmarks: key derivation, entry encode/decode, the full hit path
//! through a router on the in-process store, and the macro wrapper's
//! overhead against the same handler without the attribute.
//!
//! `cargo bench --manifest-path bench/Cargo.toml --bench micro`

use axum::{body::Body, extract::Path, routing::get, Json, Router};
use bytes::Bytes;
use cache_runtime::entry::Entry;
use cache_runtime::key::{request_key, KeyBuilder, QueryPolicy};
use cache_runtime::{cached_route, RouteCache};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use route_cache_bench::{item, Item};
use std::hint::black_box;
use tower::ServiceExt;

fn keys(c: &mut Criterion) {
    let mut group = c.benchmark_group("key");
    let long_path = format!("/catalogue/{}/items/42", "section/".repeat(40));
    let many_params: String = (0..30).map(|i| format!("p{}={i}&", 30 - i)).collect();
    type Case<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);
    let cases: [Case; 4] = [
        ("short", b"/items/42", None),
        ("short_query", b"/items/42", Some(b"page=2&limit=10")),
        ("long_path", long_path.as_bytes(), None),
        ("30_params", b"/search", Some(many_params.as_bytes())),
    ];
    for (name, path, query) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                request_key(
                    "rc",
                    "app::routes::get_item",
                    "GET",
                    black_box(path),
                    black_box(query),
                )
            });
        });
    }
    group.bench_function("allow_list_and_vary", |b| {
        b.iter(|| {
            let mut key = KeyBuilder::new("rc", Some("v2"), "app::routes::search", "GET");
            key.path_and_query(
                b"/search",
                Some(black_box(many_params.as_bytes())),
                QueryPolicy::Allow(&["p1", "p2"]),
            );
            key.vary("accept-language", Some(b"en-GB,en;q=0.9"));
            key.finish()
        });
    });
    group.finish();
}

fn entries(c: &mut Criterion) {
    let mut group = c.benchmark_group("entry");
    for size in [1024usize, 100 * 1024] {
        let mut entry = Entry::new(
            StatusCode::OK,
            1_700_000_000_000,
            3600,
            Bytes::from(vec![b'x'; size]),
        );
        entry.content_type = Some(http::HeaderValue::from_static("application/json"));
        entry.etag = Some(http::HeaderValue::from_static(
            "\"0123456789abcdef0123456789abcdef\"",
        ));
        let encoded = Bytes::from(entry.encode().unwrap());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encode", size), &entry, |b, e| {
            b.iter(|| e.encode().unwrap())
        });
        group.bench_with_input(BenchmarkId::new("decode", size), &encoded, |b, v| {
            b.iter(|| Entry::decode(black_box(v.clone())).unwrap());
        });
    }
    group.finish();
}

async fn plain(Path(id): Path<u64>) -> Json<Item> {
    Json(item(id))
}

#[cached_route(ttl = 3600)]
async fn cached(Path(id): Path<u64>) -> Json<Item> {
    Json(item(id))
}

async fn call(app: &Router, uri: &str) -> Bytes {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.into_body().collect().await.unwrap().to_bytes()
}

fn router_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plain_app: Router = Router::new().route("/items/{id}", get(plain));
    let cached_app: Router = Router::new()
        .route("/items/{id}", get(cached))
        .layer(RouteCache::embedded().layer());
    // The wrapper alone: the cached handler on a router without the layer
    // runs its body every time, through the macro's extractor and `serve`.
    let unlayered_app: Router = Router::new().route("/items/{id}", get(cached));
    rt.block_on(call(&cached_app, "/items/7"));

    let mut group = c.benchmark_group("router");
    group.bench_function("plain_handler", |b| {
        b.iter(|| rt.block_on(call(&plain_app, "/items/7")))
    });
    group.bench_function("cached_route_hit_embedded", |b| {
        b.iter(|| rt.block_on(call(&cached_app, "/items/7")))
    });
    group.bench_function("cached_route_wrapper_no_cache", |b| {
        b.iter(|| rt.block_on(call(&unlayered_app, "/items/7")));
    });
    group.finish();
}

async fn handwritten(
    axum::extract::State(conn): axum::extract::State<redis::aio::ConnectionManager>,
    Path(id): Path<u64>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut conn = conn.clone();
    let body: Option<Vec<u8>> = redis::cmd("GET")
        .arg(format!("bench:micro:{id}"))
        .query_async(&mut conn)
        .await
        .unwrap_or(None);
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        Bytes::from(body.unwrap_or_default()),
    )
        .into_response()
}

/// The Redis-backed hit path in process (no HTTP server): the hand-written
/// GET handler against `#[cached_route]` on the same Redis
/// (`$REDIS_URL`, default the local one).
fn redis_hit(c: &mut Criterion) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (manual_app, cached_app) = rt.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = redis::aio::ConnectionManager::new(client)
            .await
            .expect("Redis for the benchmark");
        let body = serde_json::to_vec(&item(7)).unwrap();
        let _: () = redis::cmd("SET")
            .arg("bench:micro:7")
            .arg(body)
            .query_async(&mut conn)
            .await
            .unwrap();
        let manual: Router = Router::new()
            .route("/items/{id}", get(handwritten))
            .with_state(conn);
        let cache = RouteCache::builder()
            .prefix("bench-micro")
            .redis(url.as_str())
            .build()
            .await
            .unwrap();
        let cached_app: Router = Router::new()
            .route("/items/{id}", get(cached))
            .layer(cache.layer());
        call(&cached_app, "/items/7").await;
        (manual, cached_app)
    });
    let mut group = c.benchmark_group("redis_hit");
    group.bench_function("handwritten_get", |b| {
        b.iter(|| rt.block_on(call(&manual_app, "/items/7")))
    });
    group.bench_function("cached_route", |b| {
        b.iter(|| rt.block_on(call(&cached_app, "/items/7")))
    });
    group.finish();
}

/// gzip (level 6, flate2's Rust backend, as the runtime stores entries) of
/// catalogue JSON by size, against the cost of handing work to tokio's
/// blocking pool and back: where compressing inline on an async worker
/// starts to stall the other requests on it.
fn codings(c: &mut Criterion) {
    use std::io::{Read, Write};
    let page = serde_json::to_vec(&route_cache_bench::catalog(1)).unwrap();
    let mut group = c.benchmark_group("codings");
    for size in [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20] {
        let data: Vec<u8> = page.iter().copied().cycle().take(size).collect();
        let gzip = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let packed = gzip(&data);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("gzip", size), &data, |b, data| {
            b.iter(|| gzip(black_box(data)))
        });
        group.bench_with_input(BenchmarkId::new("gunzip", size), &packed, |b, packed| {
            b.iter(|| {
                let mut out = Vec::with_capacity(size);
                flate2::read::GzDecoder::new(black_box(&packed[..]))
                    .read_to_end(&mut out)
                    .unwrap();
                out
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    group.bench_function("spawn_blocking_round_trip", |b| {
        b.iter(|| rt.block_on(async { tokio::task::spawn_blocking(|| black_box(1)).await }))
    });
    group.finish();
}

criterion_group!(benches, keys, entries, router_paths, redis_hit, codings);
criterion_main!(benches);

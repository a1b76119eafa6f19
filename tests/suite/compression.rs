//! Compressed entries over real HTTP, on every backend: a large JSON body
//! is stored gzip-compressed once and served as stored to clients whose
//! `Accept-Encoding` takes gzip (q-values honoured), decompressed for the
//! others, with `Vary: Accept-Encoding` and one entity tag per
//! representation; small bodies and `compress = false` routes are stored
//! as they are; a handler's own gzip is stored as it is; tower-http's
//! `CompressionLayer` around the cache never compresses twice.

use crate::support;

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use bytes::Bytes;
use cache_runtime::cached_route;
use http::Method;
use std::io::{Read, Write};
use support::{Backend, Calls, Fixture, TestApp};

/// About 100 KB of JSON, the same on every call.
fn catalog_json() -> String {
    let items: Vec<String> = (0..1800)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"item {i}","price":{},"tags":["a","b"]}}"#,
                i * 7 % 1000
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cached_route(ttl = 60)]
async fn catalog(State(calls): State<Calls>) -> Response {
    calls.record("catalog");
    json(catalog_json())
}

#[cached_route(ttl = 60)]
async fn small(State(calls): State<Calls>) -> Response {
    calls.record("small");
    json(r#"{"ok":true}"#.repeat(10))
}

#[cached_route(ttl = 60, compress = false)]
async fn plain(State(calls): State<Calls>) -> Response {
    calls.record("plain");
    json(catalog_json())
}

/// Compresses its own body, as a handler behind its own compression would.
#[cached_route(ttl = 60)]
async fn pregzipped(State(calls): State<Calls>) -> Response {
    calls.record("pregzipped");
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
            (header::VARY, "accept-encoding"),
        ],
        gzip(catalog_json().as_bytes()),
    )
        .into_response()
}

/// A large compressible body that changes with each computation.
#[cached_route(ttl = 60)]
async fn versioned(State(calls): State<Calls>) -> Response {
    let run = calls.record("versioned");
    json(format!("{{\"run\":{run},\"items\":{}}}", catalog_json()))
}

/// About 400 KB of JSON drawn from 4096 pseudo-random words: it gzips to
/// well over the 16 KiB from which a hit decompresses off the worker.
fn prose_json() -> String {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let words: Vec<String> = (0..60_000)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            format!("w{:03x}", (state >> 40) % 4096)
        })
        .collect();
    format!("{{\"text\":\"{}\"}}", words.join(" "))
}

#[cached_route(ttl = 60)]
async fn prose(State(calls): State<Calls>) -> Response {
    calls.record("prose");
    json(prose_json())
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/catalog", get(catalog))
        .route("/versioned", get(versioned))
        .route("/prose", get(prose))
        .route("/small", get(small))
        .route("/plain", get(plain))
        .route("/pregzipped", get(pregzipped))
        .with_state(calls)
}

async fn serve(f: &Fixture, outer_compression: bool) -> TestApp {
    let calls = Calls::default();
    let router = router(calls.clone()).layer(f.cache.layer());
    let router = if outer_compression {
        router.layer(tower_http::compression::CompressionLayer::new())
    } else {
        router
    };
    TestApp::serve(router, calls).await
}

async fn get_with(app: &TestApp, path: &str, accept: Option<&str>) -> support::Reply {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
    app.request(Method::GET, path, &headers, Bytes::new()).await
}

fn varies_on_encoding(reply: &support::Reply) -> bool {
    reply.headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

async fn large_bodies_are_stored_compressed_and_served_per_client(backend: Backend) {
    let f = Fixture::new(backend, "compressed").await;
    let app = serve(&f, false).await;
    let original = catalog_json();
    assert!(original.len() > 64 * 1024, "{} bytes", original.len());

    let first = get_with(&app, "/catalog", Some("gzip, deflate, br")).await;
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(first.header("content-encoding"), "gzip");
    assert!(varies_on_encoding(&first));
    assert_eq!(gunzip(&first.body), original.as_bytes());
    let gzip_tag = first.header("etag").to_owned();
    assert!(gzip_tag.ends_with("-gzip\""), "{gzip_tag}");

    let hit = get_with(&app, "/catalog", Some("gzip")).await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(hit.header("content-encoding"), "gzip");
    assert_eq!(hit.body, first.body, "the stored bytes, as they are");
    assert_eq!(hit.header("content-length"), hit.body.len().to_string());
    assert_eq!(hit.header("etag"), gzip_tag);
    assert!(varies_on_encoding(&hit));

    for accept in [
        None,
        Some("identity"),
        Some("gzip;q=0, br"),
        Some("gzip;q=0.5, identity"),
    ] {
        let plain = get_with(&app, "/catalog", accept).await;
        assert_eq!(plain.x_cache(), "HIT", "{accept:?}");
        assert!(
            plain.headers.get("content-encoding").is_none(),
            "{accept:?}"
        );
        assert_eq!(plain.body, original.as_bytes(), "{accept:?}");
        assert_eq!(plain.header("content-length"), original.len().to_string());
        assert!(varies_on_encoding(&plain));
        let tag = plain.header("etag");
        assert_eq!(
            format!("{}-gzip\"", &tag[..tag.len() - 1]),
            gzip_tag,
            "{accept:?}"
        );
    }
    // `Accept-Encoding` split over two fields is one list (RFC 9110
    // §5.3): the first field alone would take the identity.
    let split = app
        .request(
            Method::GET,
            "/catalog",
            &[("accept-encoding", "identity"), ("accept-encoding", "gzip")],
            Bytes::new(),
        )
        .await;
    assert_eq!(split.x_cache(), "HIT");
    assert_eq!(split.header("content-encoding"), "gzip");
    assert_eq!(split.body, first.body);
    assert_eq!(
        app.calls.get("catalog"),
        1,
        "one handler run for every client"
    );

    // Each representation revalidates against its own tag.
    let headers = [
        ("accept-encoding", "gzip"),
        ("if-none-match", gzip_tag.as_str()),
    ];
    let not_modified = app
        .request(Method::GET, "/catalog", &headers, Bytes::new())
        .await;
    assert_eq!(not_modified.status.as_u16(), 304);
    let headers = [("if-none-match", gzip_tag.as_str())];
    let other = app
        .request(Method::GET, "/catalog", &headers, Bytes::new())
        .await;
    assert_eq!(other.status.as_u16(), 200, "the identity's tag differs");

    if f.redis.is_some() || backend == Backend::Cluster {
        let mut redis = f.inspector().await;
        let keys = redis
            .keys(&format!("{}:*catalog*", f.cache.config().prefix))
            .await;
        let keys: Vec<_> = keys.into_iter().filter(|k| !k.contains('#')).collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let stored = redis.strlen(&keys[0]).await;
        let ratio = stored as f64 / original.len() as f64;
        assert!(
            ratio <= 0.35,
            "{stored} bytes stored for {} ({ratio:.3})",
            original.len()
        );
    }
}

async fn small_bodies_and_routes_that_opt_out_are_stored_as_they_are(backend: Backend) {
    let f = Fixture::new(backend, "uncompressed").await;
    let app = serve(&f, false).await;
    for path in ["/small", "/plain"] {
        for round in ["MISS", "HIT"] {
            let reply = get_with(&app, path, Some("gzip")).await;
            assert_eq!(reply.x_cache(), round, "{path}");
            assert!(
                reply.headers.get("content-encoding").is_none(),
                "{path} {round}"
            );
            assert!(!varies_on_encoding(&reply), "{path}: one representation");
        }
    }
}

async fn a_handlers_own_gzip_is_stored_as_it_is(backend: Backend) {
    let f = Fixture::new(backend, "pregzipped").await;
    let app = serve(&f, false).await;
    let original = catalog_json();
    let first = get_with(&app, "/pregzipped", Some("gzip")).await;
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(first.header("content-encoding"), "gzip");
    let hit = get_with(&app, "/pregzipped", Some("gzip")).await;
    assert_eq!(
        hit.x_cache(),
        "HIT",
        "a Vary on Accept-Encoding is the cache's to honour"
    );
    assert_eq!(hit.body, first.body);
    assert_eq!(hit.header("etag"), first.header("etag"));
    let plain = get_with(&app, "/pregzipped", None).await;
    assert_eq!(plain.x_cache(), "HIT");
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(
        plain.body,
        original.as_bytes(),
        "decompressed for a client without gzip"
    );
    assert!(
        plain.header("etag").ends_with("-identity\""),
        "{}",
        plain.header("etag")
    );
    assert_eq!(app.calls.get("pregzipped"), 1);
}

async fn compression_layer_outside_never_compresses_twice(backend: Backend) {
    let f = Fixture::new(backend, "outer_layer").await;
    let app = serve(&f, true).await;
    let original = catalog_json();
    for round in ["MISS", "HIT"] {
        let reply = get_with(&app, "/catalog", Some("gzip")).await;
        assert_eq!(reply.x_cache(), round);
        assert_eq!(reply.header("content-encoding"), "gzip");
        assert_eq!(
            gunzip(&reply.body),
            original.as_bytes(),
            "{round}: gzip once"
        );
        let plain = get_with(&app, "/catalog", None).await;
        assert!(plain.headers.get("content-encoding").is_none());
        assert_eq!(plain.body, original.as_bytes());
    }
    // A small body the cache stores as it is: the layer compresses it.
    let small = get_with(&app, "/small", Some("gzip")).await;
    assert_eq!(small.header("content-encoding"), "gzip");
    assert_eq!(gunzip(&small.body), r#"{"ok":true}"#.repeat(10).as_bytes());
    assert_eq!(app.calls.get("catalog"), 1);
}

/// Identity clients of a gzip entry get its decoded body, kept between
/// hits; once the entry is replaced they get the new one, never the body
/// kept for the old.
async fn identity_clients_get_the_current_entrys_body(backend: Backend) {
    let f = Fixture::new(backend, "identity-kept").await;
    let app = serve(&f, false).await;
    let body = |run: usize| format!("{{\"run\":{run},\"items\":{}}}", catalog_json());
    let first = get_with(&app, "/versioned", Some("gzip")).await;
    assert_eq!(first.header("content-encoding"), "gzip");
    let run = app.calls.get("versioned");
    for _ in 0..3 {
        let plain = get_with(&app, "/versioned", None).await;
        assert_eq!(plain.x_cache(), "HIT");
        assert!(plain.headers.get("content-encoding").is_none());
        assert_eq!(plain.body, body(run).as_bytes());
    }
    f.cache.invalidate("/versioned").await.unwrap();
    let refilled = get_with(&app, "/versioned", Some("gzip")).await;
    assert_eq!(refilled.x_cache(), "MISS");
    let plain = get_with(&app, "/versioned", None).await;
    assert_eq!(plain.x_cache(), "HIT");
    assert_eq!(plain.body, body(run + 1).as_bytes(), "the new entry's body");
}

/// A large gzip entry, whose decompression runs on a codec thread before
/// the hit answers (and is then kept): identity clients get the whole
/// body, from the entry, on the first hit and after.
async fn identity_clients_of_a_large_entry_get_it_whole(backend: Backend) {
    let f = Fixture::new(backend, "identity-large").await;
    let app = serve(&f, false).await;
    let original = prose_json();
    let packed = get_with(&app, "/prose", Some("gzip")).await;
    assert_eq!(packed.header("content-encoding"), "gzip");
    assert!(
        packed.body.len() > 16 << 10,
        "{} bytes gzipped",
        packed.body.len()
    );
    assert_eq!(gunzip(&packed.body), original.as_bytes());
    for round in 0..3 {
        let plain = get_with(&app, "/prose", None).await;
        assert_eq!(plain.x_cache(), "HIT", "{round}");
        assert!(plain.headers.get("content-encoding").is_none());
        assert_eq!(plain.header("content-length"), original.len().to_string());
        assert!(plain.body == original.as_bytes(), "{round}: the whole body");
    }
    assert_eq!(app.calls.get("prose"), 1, "every identity client was a hit");
}

backend_matrix!(
    identity_clients_of_a_large_entry_get_it_whole,
    identity_clients_get_the_current_entrys_body,
    large_bodies_are_stored_compressed_and_served_per_client,
    small_bodies_and_routes_that_opt_out_are_stored_as_they_are,
    a_handlers_own_gzip_is_stored_as_it_is,
    compression_layer_outside_never_compresses_twice,
);

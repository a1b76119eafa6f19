//! The public API end to end, on a real server on loopback: the named layer
//! under `ServiceBuilder`, `key_for` against what the route really stores,
//! and the one credential list (`Proxy-Authorization` included) on every
//! backend.

use crate::support;

use axum::{extract::State, routing::get, Router};
use cache_runtime::{cached_route, route, CacheLayer};
use support::{Backend, Calls, Fixture, TestApp};

#[cached_route(ttl = 3600, namespace = "api", query = ["page"], vary = ["accept-language"])]
async fn listed(State(calls): State<Calls>) -> String {
    format!("run {}", calls.record("listed"))
}

fn router() -> Router<Calls> {
    Router::new().route("/listed", get(listed))
}

async fn app(f: &Fixture) -> TestApp {
    let calls = Calls::default();
    // A named layer, so it composes under tower's ServiceBuilder.
    let layer: CacheLayer = f.cache.layer();
    let router = router()
        .with_state(calls.clone())
        .layer(tower::ServiceBuilder::new().layer(layer));
    TestApp::serve(router, calls).await
}

async fn service_builder_layer_caches(backend: Backend) {
    let f = Fixture::new(backend, "api_layer").await;
    let app = app(&f).await;
    let first = app.get("/listed?page=1").await;
    assert_eq!(first.x_cache(), "MISS");
    let second = app.get("/listed?page=1&utm_source=x").await;
    assert_eq!(second.x_cache(), "HIT", "utm_source is not keyed on");
    assert_eq!(second.body, first.body);
    assert_eq!(app.calls.get("listed"), 1);
}

async fn key_for_names_the_stored_entry(backend: Backend) {
    let f = Fixture::new(backend, "api_key_for").await;
    let app = app(&f).await;
    app.request(
        http::Method::GET,
        "/listed?page=2&utm=1",
        &[("accept-language", "fr")],
        bytes::Bytes::new(),
    )
    .await;
    // The host is part of the key: the request as the server saw it.
    let request = http::Request::get("/listed?page=2")
        .header("host", support::TEST_HOST)
        .header("accept-language", "fr")
        .body(())
        .unwrap();
    let key = f
        .cache
        .key_for_request::<route!(listed)>(&request)
        .expect("the route keys on the request");
    assert!(key.contains(":api:"), "the namespace: {key}");
    let stored = f.cache.raw_get(&key).await.expect("backend answers");
    assert!(stored.is_some(), "the entry is under {key}");
    let same = f
        .cache
        .key_for::<route!(listed)>("http://app.test/listed?page=2&utm=9")
        .unwrap();
    assert_eq!(same, key.replace("#accept-language=fr", "#accept-language"));
    assert!(
        f.cache.raw_get(&same).await.unwrap().is_none(),
        "no accept-language is another entry"
    );
}

async fn proxy_authorization_bypasses_shared_entries(backend: Backend) {
    let f = Fixture::new(backend, "api_proxy_auth").await;
    let app = app(&f).await;
    for _ in 0..2 {
        let reply = app
            .request(
                http::Method::GET,
                "/listed",
                &[("proxy-authorization", "Basic c2VjcmV0")],
                bytes::Bytes::new(),
            )
            .await;
        assert_eq!(
            reply.headers["cache-status"],
            "route-cache; fwd=bypass; detail=proxy-authorization"
        );
    }
    assert_eq!(app.calls.get("listed"), 2, "never served from an entry");
    assert_eq!(
        app.get("/listed").await.x_cache(),
        "MISS",
        "nor stored in one"
    );
}

backend_matrix!(
    service_builder_layer_caches,
    key_for_names_the_stored_entry,
    proxy_authorization_bypasses_shared_entries,
);

/// The README's Rust quickstart is `examples/quickstart.rs` (which cargo
/// compiles with the examples), less its `//!` header: the README shows
/// code that builds.
#[test]
fn the_readme_quickstart_is_the_compiled_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let example =
        std::fs::read_to_string(root.join("examples/quickstart.rs")).expect("the example");
    let code: String = example
        .lines()
        .filter(|line| !line.starts_with("//!"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README.md's quickstart differs from examples/quickstart.rs"
    );
}

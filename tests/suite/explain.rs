//! Explain on request (`RouteCacheBuilder::explain_header`), on every
//! backend, over real HTTP: a request carrying the header with the token
//! gets a response header with the key's hash, the decision, its reason,
//! the TTL left and the backend; without the token, or with a wrong one,
//! it gets none, and the key is unchanged (the same entry hits). The
//! handler never sees the header.

use crate::support;

use axum::{extract::Path, http::HeaderMap, routing::get, Router};
use cache_runtime::{cached_route, CacheError, RouteCache};
use support::{Backend, Calls, Fixture, TestApp};

const TOKEN: &str = "explain-token-0123456789";
const HEADER: &str = "cache-explain";

/// Answers with the request headers it saw, so a test can tell whether
/// the explain header reached it.
#[cached_route(ttl = 600, allow_unkeyed = true)]
async fn item(Path(id): Path<u64>, headers: HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    format!("item {id}: {}", names.join(","))
}

async fn serve(f: &Fixture) -> TestApp {
    let router = Router::new()
        .route("/items/{id}", get(item))
        .layer(f.cache.layer());
    TestApp::serve(router, Calls::default()).await
}

/// `name=value` pairs of an explanation.
fn fields(value: &str) -> std::collections::HashMap<String, String> {
    value
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn the_token_gets_an_explanation_and_nothing_else_changes(backend: Backend) {
    let f = Fixture::with(backend, "explain", |b| b.explain_header(HEADER, TOKEN)).await;
    let app = serve(&f).await;
    let with = [(HEADER, TOKEN)];

    let miss = app.get_direct("/items/1", &with).await;
    assert_eq!(miss.x_cache(), "MISS");
    let explained = fields(miss.header(HEADER));
    assert_eq!(explained["decision"], "MISS", "{explained:?}");
    assert_eq!(explained["reason"], "stored", "{explained:?}");
    assert_eq!(explained["key"].len(), 16, "a short hash: {explained:?}");
    assert!(
        !miss.header(HEADER).contains("/items"),
        "never the key itself"
    );
    assert_eq!(explained["backend"], f.cache.backend().to_string());
    let body = String::from_utf8_lossy(&miss.body).into_owned();
    assert!(!body.contains(HEADER), "the handler never sees it: {body}");

    let hit = app.get_direct("/items/1", &with).await;
    let explained_hit = fields(hit.header(HEADER));
    assert_eq!(explained_hit["decision"], "HIT", "{explained_hit:?}");
    assert_eq!(explained_hit["reason"], "fresh");
    assert_eq!(explained_hit["key"], explained["key"], "the same key");
    let ttl: i64 = explained_hit["ttl"].parse().expect("ttl left");
    assert!((590..=600).contains(&ttl), "{ttl}");

    // Without the header, or with a wrong token: no explanation, and the
    // same entry (the header is not in the key).
    for headers in [vec![], vec![(HEADER, "wrong-token-0123456789")]] {
        let reply = app.get_direct("/items/1", &headers).await;
        assert_eq!(reply.x_cache(), "HIT", "{headers:?}");
        assert_eq!(reply.body, miss.body, "{headers:?}");
        assert!(reply.headers.get(HEADER).is_none(), "{headers:?}");
    }
    // A miss with a wrong token: the handler does not see it either.
    let other = app
        .get_direct("/items/2", &[(HEADER, "wrong-token-0123456789")])
        .await;
    assert_eq!(other.x_cache(), "MISS");
    assert!(!String::from_utf8_lossy(&other.body).contains(HEADER));
    assert!(other.headers.get(HEADER).is_none());

    // A bypass is explained too, with its reason.
    let bypass = app
        .get_direct(
            "/items/1",
            &[(HEADER, TOKEN), ("authorization", "Bearer u1")],
        )
        .await;
    let explained = fields(bypass.header(HEADER));
    assert_eq!(explained["decision"], "BYPASS", "{explained:?}");
    assert_eq!(explained["reason"], "authorization", "{explained:?}");
}

backend_matrix!(the_token_gets_an_explanation_and_nothing_else_changes);

/// A header name that is none, or a short token, fails `build`.
#[tokio::test]
async fn a_bad_explain_header_is_refused_at_build_time() {
    for (name, token) in [("bad name", TOKEN), (HEADER, "short")] {
        let built = RouteCache::builder()
            .explain_header(name, token)
            .build()
            .await;
        assert!(
            matches!(
                built,
                Err(CacheError::InvalidSetting {
                    setting: "explain_header",
                    ..
                })
            ),
            "{name:?} {token:?}: {built:?}"
        );
    }
}

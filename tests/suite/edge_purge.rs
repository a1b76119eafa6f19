//! Edge purge over real HTTP: routes' tags go out in `Surrogate-Key` and
//! `Cache-Tag` (misses and hits), and an `EdgePurge` that sends Varnish-
//! style `PURGE` requests to a real local HTTP server (standing in for the
//! CDN's purge API, recording what it receives) is called by
//! `invalidate_tag`, `invalidate` and `#[invalidates]`, after the cache's
//! own entries are gone; a failing edge is logged and counted, and the
//! invalidation still succeeds.

use crate::support;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    routing::{any, get},
    Json, Router,
};
use bytes::Bytes;
use cache_runtime::{
    cached_route,
    edge::{EdgeFuture, EdgePurge},
    invalidates, EdgeTags, RouteCache,
};
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use std::sync::{Arc, Mutex};
use support::{Calls, TestApp};

/// What the purge server received: method, path, `Surrogate-Key`.
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

/// The stand-in for a CDN's purge endpoint: records every request; answers
/// 500 while `failing` holds.
async fn purge_server(failing: bool) -> (String, Received) {
    let received = Received::default();
    let recorded = received.clone();
    let app = Router::new().fallback(any(move |method: Method, uri: Uri, headers: HeaderMap| {
        let recorded = recorded.clone();
        async move {
            let key = headers
                .get("surrogate-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            recorded
                .lock()
                .unwrap()
                .push((method.to_string(), uri.to_string(), key));
            if failing {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

/// An `EdgePurge` for a Varnish (`xkey`) or Fastly-like edge: `PURGE /`
/// with the tags in `Surrogate-Key`, and `PURGE <path>`.
struct HttpPurge {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl HttpPurge {
    fn new(base: String) -> Self {
        Self {
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn send(
        &self,
        path: &str,
        keys: Option<String>,
    ) -> Result<(), cache_runtime::edge::EdgeError> {
        let mut request = http::Request::builder()
            .method("PURGE")
            .uri(format!("{}{path}", self.base));
        if let Some(keys) = keys {
            request = request.header("surrogate-key", keys);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::new()))?)
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("purge answered {}", response.status()).into())
        }
    }
}

impl EdgePurge for HttpPurge {
    fn purge_tags<'a>(&'a self, tags: &'a [String]) -> EdgeFuture<'a> {
        Box::pin(self.send("/", Some(tags.join(" "))))
    }

    fn purge_paths<'a>(&'a self, paths: &'a [String]) -> EdgeFuture<'a> {
        Box::pin(async move {
            for path in paths {
                self.send(path, None).await?;
            }
            Ok(())
        })
    }
}

#[cached_route(ttl = 600, tags = ["item:{id}", "items"])]
async fn item(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<serde_json::Value> {
    let run = calls.record("item");
    Json(serde_json::json!({ "id": id, "run": run }))
}

#[invalidates(tags = ["item:{id}"], paths = ["/items/{id}"])]
async fn update(Path(id): Path<u64>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

async fn serve(cache: &RouteCache) -> TestApp {
    let calls = Calls::default();
    let router = Router::new()
        .route("/items/{id}", get(item).post(update))
        .with_state(calls.clone())
        .layer(cache.layer());
    TestApp::serve(router, calls).await
}

async fn cache_with(edge: HttpPurge, tags: Option<EdgeTags>) -> RouteCache {
    RouteCache::builder()
        .prefix(support::unique_prefix("edge"))
        .edge_tags(tags)
        .edge_purge(edge)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn tags_go_out_in_surrogate_key_and_cache_tag() {
    let (base, _) = purge_server(false).await;
    let cache = cache_with(HttpPurge::new(base), Some(EdgeTags::Both)).await;
    let app = serve(&cache).await;
    let miss = app.get("/items/7").await;
    let hit = app.get("/items/7").await;
    // The route's tags, then its scope tags: route and cache-wide.
    let prefix = &cache.config().prefix;
    let route = format!("{prefix}:route:{}::item", module_path!());
    let all = format!("{prefix}:all");
    for reply in [&miss, &hit] {
        assert_eq!(
            reply.header("surrogate-key"),
            format!("item:7 items {route} {all}")
        );
        assert_eq!(
            reply.header("cache-tag"),
            format!("item:7,items,{route},{all}")
        );
    }
    assert_eq!(hit.x_cache(), "HIT");

    let (base, _) = purge_server(false).await;
    let quiet = cache_with(HttpPurge::new(base), None).await;
    let app = serve(&quiet).await;
    let reply = app.get("/items/7").await;
    assert!(!reply.headers.contains_key("surrogate-key"));
    assert!(!reply.headers.contains_key("cache-tag"));
}

#[tokio::test]
async fn invalidations_purge_the_edge_after_the_cache() {
    let (base, received) = purge_server(false).await;
    let cache = cache_with(HttpPurge::new(base), Some(EdgeTags::SurrogateKey)).await;
    let app = serve(&cache).await;
    app.get("/items/1").await;
    assert_eq!(cache.invalidate_tag("item:1").await.unwrap(), 1);
    assert_eq!(
        received.lock().unwrap().clone(),
        [("PURGE".to_owned(), "/".to_owned(), "item:1".to_owned())]
    );
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");

    received.lock().unwrap().clear();
    cache.invalidate("/items/1?x=2").await.unwrap();
    assert_eq!(
        received.lock().unwrap().clone(),
        [("PURGE".to_owned(), "/items/1?x=2".to_owned(), String::new())]
    );

    // `#[invalidates]`: both its tag and its path, after the 204.
    received.lock().unwrap().clear();
    let reply = app
        .request(Method::POST, "/items/1", &[], Bytes::new())
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let mut got = received.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        [
            ("PURGE".to_owned(), "/".to_owned(), "item:1".to_owned()),
            ("PURGE".to_owned(), "/items/1".to_owned(), String::new()),
        ]
    );
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
}

/// Route, namespace and whole-cache invalidations, hard and soft, purge
/// the edge of the scope tags every response carries.
#[tokio::test]
async fn scoped_invalidations_purge_the_edge_by_their_scope_tag() {
    let (base, received) = purge_server(false).await;
    let cache = cache_with(HttpPurge::new(base), Some(EdgeTags::SurrogateKey)).await;
    let app = serve(&cache).await;
    let prefix = cache.config().prefix.clone();
    let route = format!("{prefix}:route:{}::item", module_path!());
    let tags = app.get("/items/1").await.header("surrogate-key").to_owned();
    assert!(tags.split(' ').any(|t| t == route), "{tags}");
    let purged = || {
        let got: Vec<String> = received
            .lock()
            .unwrap()
            .drain(..)
            .map(|(method, path, key)| format!("{method} {path} {key}"))
            .collect();
        got
    };
    assert_eq!(
        cache
            .invalidate_route::<cache_runtime::route!(item)>()
            .await
            .unwrap(),
        1
    );
    assert_eq!(purged(), [format!("PURGE / {route}")]);
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    cache.invalidate_namespace("reports").await.unwrap();
    assert_eq!(purged(), [format!("PURGE / {prefix}:namespace:reports")]);
    assert_eq!(cache.invalidate_all().await.unwrap(), 1);
    assert_eq!(purged(), [format!("PURGE / {prefix}:all")]);
    // Soft: the same tags, through the soft methods (which purge by
    // default).
    app.get("/items/1").await;
    assert_eq!(cache.soft().invalidate_all().await.unwrap(), 1);
    assert_eq!(purged(), [format!("PURGE / {prefix}:all")]);
    cache
        .soft()
        .invalidate_route::<cache_runtime::route!(item)>()
        .await
        .unwrap();
    assert_eq!(purged(), [format!("PURGE / {route}")]);
}

#[tokio::test]
async fn a_failing_edge_does_not_fail_the_invalidation() {
    let (base, received) = purge_server(true).await;
    let cache = cache_with(HttpPurge::new(base), None).await;
    let app = serve(&cache).await;
    app.get("/items/3").await;
    assert_eq!(cache.invalidate_tag("item:3").await.unwrap(), 1);
    assert_eq!(received.lock().unwrap().len(), 1, "the edge was asked");
    assert_eq!(app.get("/items/3").await.x_cache(), "MISS");
    assert_eq!(
        cache.stats().backend_errors,
        1,
        "counted as a backend error"
    );
}

/// The admin API's purge reaches the edge like the methods do, and says
/// how many edge purges were sent and how many failed.
#[tokio::test]
async fn the_admin_purge_reports_edge_purges_sent_and_failed() {
    const TOKEN: &str = "edge-admin-token-0123456789";
    for failing in [false, true] {
        let (base, received) = purge_server(failing).await;
        let cache = cache_with(HttpPurge::new(base), None).await;
        let calls = Calls::default();
        let router = Router::new()
            .route("/items/{id}", get(item))
            .with_state(calls.clone())
            .layer(cache.layer())
            .nest("/_cache", cache.admin(TOKEN).unwrap());
        let app = TestApp::serve(router, calls).await;
        app.get("/items/1").await;
        let reply = app
            .request(
                Method::POST,
                "/_cache/purge",
                &[("authorization", &format!("Bearer {TOKEN}"))],
                Bytes::from(format!(
                    r#"{{"paths": ["/items/1"], "tags": ["items"], "routes": ["{}::item"], "all": true}}"#,
                    module_path!()
                )),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let done = reply.json();
        let (sent, failed) = if failing { (0, 4) } else { (4, 0) };
        assert_eq!(done["edge"]["sent"], sent, "{done}");
        assert_eq!(done["edge"]["failed"], failed, "{done}");
        assert_eq!(
            received.lock().unwrap().len(),
            4,
            "one purge per path, tag, route and the whole cache"
        );
        assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    }
}

//! Every `#[cached_route]` option, end to end against each shared backend
//! (standalone Redis, the 3-master cluster, Redis with L1): its effect on
//! the stored keys (read back with SCAN, on every master) and on hits.

use crate::support;

use axum::{
    extract::{Path, Query, State},
    routing::get,
    Json, Router,
};
use cache_runtime::cached_route;
use http::request::Parts;
use std::collections::HashMap;
use support::{Backend, Calls, Fixture, Inspector, TestApp};

#[cached_route(ttl = "1h")]
async fn ttl_string(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("ttl_string"))
}

#[cached_route(ttl = "90s")]
async fn ttl_seconds(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("ttl_seconds"))
}

/// Keyed by an expression over the bound parameters: the query is ignored.
#[cached_route(ttl = 60, key = format!("item:{id}"))]
async fn key_expr(
    State(calls): State<Calls>,
    Path(id): Path<u64>,
    Query(_q): Query<HashMap<String, String>>,
) -> Json<(u64, usize)> {
    Json((id, calls.record("key_expr")))
}

/// Keyed by a bound parameter alone.
#[cached_route(ttl = 60, key = name)]
async fn key_binding(
    State(calls): State<Calls>,
    Path(name): Path<String>,
) -> Json<(String, usize)> {
    Json((name, calls.record("key_binding")))
}

fn tenant(parts: &Parts) -> String {
    parts
        .headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

/// Keyed by a function of the request parts.
#[cached_route(ttl = 60, key = tenant)]
async fn key_fn(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("key_fn"))
}

const EDITION: &str = "2026";

mod keys {
    /// A lower-case name: told from a function by its type, not its case.
    #[allow(non_upper_case_globals)]
    pub static shared_key: u32 = 7;
}

/// Keyed by a constant: one entry for every path and query.
#[cached_route(ttl = 60, key = EDITION)]
async fn key_const(State(calls): State<Calls>, Path(_n): Path<u32>) -> Json<usize> {
    Json(calls.record("key_const"))
}

/// Keyed by a `static` behind a path.
#[cached_route(ttl = 60, key = keys::shared_key)]
async fn key_static(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("key_static"))
}

#[cached_route(ttl = 60, query = ["page", "limit"])]
async fn query_allow(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("query_allow"))
}

#[cached_route(ttl = 60, query = none)]
async fn query_none(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("query_none"))
}

#[cached_route(ttl = 60, vary = ["Accept-Language"])]
async fn vary(State(calls): State<Calls>, headers: http::HeaderMap) -> Json<(String, usize)> {
    let lang = headers
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    Json((lang, calls.record("vary")))
}

#[cached_route(ttl = 60, namespace = "v2")]
async fn namespaced(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("namespaced"))
}

#[cached_route(ttl = 60, prefix = "v3", max_body = 8)]
async fn small_limit(State(calls): State<Calls>, Path(n): Path<usize>) -> String {
    calls.record("small_limit");
    "y".repeat(n)
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/ttl-string", get(ttl_string))
        .route("/ttl-seconds", get(ttl_seconds))
        .route("/key-expr/{id}", get(key_expr))
        .route("/key-binding/{name}", get(key_binding))
        .route("/key-fn", get(key_fn))
        .route("/key-const/{n}", get(key_const))
        .route("/key-static", get(key_static))
        .route("/query-allow", get(query_allow))
        .route("/query-none", get(query_none))
        .route("/vary", get(vary))
        .route("/namespaced", get(namespaced))
        .route("/small/{n}", get(small_limit))
        .with_state(calls)
}

/// The key segment of a handler in this module.
fn route(name: &str) -> String {
    support::key_segment(&format!("{}::{name}", module_path!()))
}

backend_matrix!(
    shared:
    ttl_accepts_seconds_and_duration_strings,
    key_expression_replaces_path_and_query,
    key_binding_uses_the_bound_value,
    key_function_reads_the_request_parts,
    key_constants_and_statics_are_values,
    query_allow_list_ignores_other_parameters,
    vary_headers_split_entries_and_are_announced,
    namespace_and_max_body_shape_the_entries,
);

struct Setup {
    app: TestApp,
    prefix: String,
    stored: Inspector,
    _fixture: Fixture,
}

impl Setup {
    async fn new(backend: Backend, test: &str) -> Self {
        let fixture = Fixture::new(backend, test).await;
        let prefix = fixture.cache.config().prefix.to_owned();
        let calls = Calls::default();
        let app = TestApp::serve(router(calls.clone()).layer(fixture.cache.layer()), calls).await;
        Self {
            app,
            prefix,
            stored: fixture.inspector().await,
            _fixture: fixture,
        }
    }

    /// Every entry key stored for `route`, sorted, without the shared
    /// scope. Leases (released in the background just after a miss's
    /// response) are not entries.
    async fn keys(&mut self, route_scope: &str) -> Vec<String> {
        self.entry_keys(route_scope)
            .await
            .into_iter()
            .map(|k| k[self.prefix.len() + 1 + route_scope.len()..].to_owned())
            .collect()
    }

    async fn entry_keys(&mut self, route_scope: &str) -> Vec<String> {
        let pattern = format!("{}:{route_scope}*", self.prefix);
        let mut keys = self.stored.keys(&pattern).await;
        keys.retain(|k| !k.contains("#lease{"));
        keys
    }

    async fn ttl(&mut self, route_scope: &str) -> i64 {
        let keys = self.entry_keys(route_scope).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        self.stored.ttl(&keys[0]).await
    }

    async fn expect(&self, path: &str, headers: &[(&str, &str)], x_cache: &str) -> support::Reply {
        let reply = self
            .app
            .request(http::Method::GET, path, headers, bytes::Bytes::new())
            .await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.x_cache(), x_cache, "{path} {headers:?}");
        reply
    }
}

async fn ttl_accepts_seconds_and_duration_strings(backend: Backend) {
    let mut s = Setup::new(backend, "opt_ttl").await;
    s.expect("/ttl-string", &[], "MISS").await;
    s.expect("/ttl-string", &[], "HIT").await;
    s.expect("/ttl-seconds", &[], "MISS").await;
    let hour = s.ttl(&format!("{}:", route("ttl_string"))).await;
    assert!((3590..=3600).contains(&hour), "ttl {hour}");
    let ninety = s.ttl(&format!("{}:", route("ttl_seconds"))).await;
    assert!((80..=90).contains(&ninety), "ttl {ninety}");
}

async fn key_expression_replaces_path_and_query(backend: Backend) {
    let mut s = Setup::new(backend, "opt_key_expr").await;
    s.expect("/key-expr/5?x=1", &[], "MISS").await;
    s.expect("/key-expr/5?x=2", &[], "HIT").await;
    s.expect("/key-expr/6", &[], "MISS").await;
    let keys = s.keys(&format!("{}:GET:", route("key_expr"))).await;
    assert_eq!(keys, ["key:item%3A5", "key:item%3A6"]);
}

async fn key_binding_uses_the_bound_value(backend: Backend) {
    let mut s = Setup::new(backend, "opt_key_binding").await;
    s.expect("/key-binding/ab%20c?z=1", &[], "MISS").await;
    s.expect("/key-binding/ab%20c?z=2", &[], "HIT").await;
    let keys = s.keys(&format!("{}:GET:", route("key_binding"))).await;
    assert_eq!(keys, ["key:ab%20c"]);
}

async fn key_function_reads_the_request_parts(backend: Backend) {
    let mut s = Setup::new(backend, "opt_key_fn").await;
    s.expect("/key-fn", &[("x-tenant", "acme")], "MISS").await;
    s.expect("/key-fn?any=thing", &[("x-tenant", "acme")], "HIT")
        .await;
    s.expect("/key-fn", &[("x-tenant", "globex")], "MISS").await;
    s.expect("/key-fn", &[], "MISS").await;
    let keys = s.keys(&format!("{}:GET:", route("key_fn"))).await;
    assert_eq!(keys, ["key:acme", "key:globex", "key:none"]);
}

async fn key_constants_and_statics_are_values(backend: Backend) {
    let mut s = Setup::new(backend, "opt_key_const").await;
    s.expect("/key-const/1", &[], "MISS").await;
    s.expect("/key-const/2?x=1", &[], "HIT").await;
    s.expect("/key-static", &[], "MISS").await;
    s.expect("/key-static?y=2", &[], "HIT").await;
    let keys = s.keys(&format!("{}:GET:", route("key_const"))).await;
    assert_eq!(keys, ["key:2026"]);
    let keys = s.keys(&format!("{}:GET:", route("key_static"))).await;
    assert_eq!(keys, ["key:7"]);
    assert_eq!(s.app.calls.get("key_const"), 1);
}

async fn query_allow_list_ignores_other_parameters(backend: Backend) {
    let mut s = Setup::new(backend, "opt_query").await;
    s.expect("/query-allow?page=1&utm=a", &[], "MISS").await;
    s.expect("/query-allow?utm=b&page=1", &[], "HIT").await;
    s.expect("/query-allow?page=2&limit=5&utm=c", &[], "MISS")
        .await;
    s.expect("/query-none?a=1", &[], "MISS").await;
    s.expect("/query-none?b=2", &[], "HIT").await;
    let keys = s.keys(&format!("{}:GET:", route("query_allow"))).await;
    assert_eq!(keys, ["/query-allow?limit=5&page=2", "/query-allow?page=1"]);
    let keys = s.keys(&format!("{}:GET:", route("query_none"))).await;
    assert_eq!(keys, ["/query-none"]);
}

async fn vary_headers_split_entries_and_are_announced(backend: Backend) {
    let mut s = Setup::new(backend, "opt_vary").await;
    let en = s
        .expect("/vary", &[("accept-language", "en")], "MISS")
        .await;
    assert_eq!(en.headers["vary"], "accept-language");
    let fr = s
        .expect("/vary", &[("accept-language", "fr")], "MISS")
        .await;
    assert_eq!(fr.json()[0], "fr");
    let en_hit = s.expect("/vary", &[("accept-language", "en")], "HIT").await;
    assert_eq!(en_hit.json()[0], "en");
    assert_eq!(en_hit.headers["vary"], "accept-language");
    s.expect("/vary", &[], "MISS").await;
    let keys = s.keys(&format!("{}:GET:", route("vary"))).await;
    assert_eq!(
        keys,
        [
            "/vary#accept-language",
            "/vary#accept-language=en",
            "/vary#accept-language=fr"
        ]
    );
}

async fn namespace_and_max_body_shape_the_entries(backend: Backend) {
    let mut s = Setup::new(backend, "opt_ns").await;
    s.expect("/namespaced", &[], "MISS").await;
    s.expect("/namespaced", &[], "HIT").await;
    assert_eq!(
        s.keys(&format!("v2:{}:GET:", route("namespaced"))).await,
        ["/namespaced"]
    );
    // `prefix` is the same option under another name; max_body = 8.
    s.expect("/small/8", &[], "MISS").await;
    s.expect("/small/8", &[], "HIT").await;
    s.expect("/small/9", &[], "MISS").await;
    s.expect("/small/9", &[], "MISS").await;
    assert_eq!(
        s.keys(&format!("v3:{}:GET:", route("small_limit"))).await,
        ["/small/8"]
    );
}

//! The admin API (`admin` feature): [`RouteCache::admin`] returns an axum
//! [`Router`] to nest under a path the application picks, whose endpoints
//! purge, list the cached routes and report the counts, each behind a
//! bearer token compared in constant time. Answers are JSON with
//! `Cache-Control: no-store`.

use crate::cache::RouteCache;
use crate::error::{CacheError, StoreError};
use crate::explain::KeyUnknown;
use crate::invalidate::EdgeStatus;
use crate::observe::RouteStats;
use crate::policy::{KeySource, RoutePolicy};
use crate::token::{Token, MIN_TOKEN_BYTES};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

/// The admin router's state: the cache, and the token's digest (what a
/// presented token's digest is compared with, so the comparison takes the
/// same time whatever either token's length or content).
#[derive(Clone)]
struct Admin {
    cache: RouteCache,
    token: Token,
}

impl RouteCache {
    /// The admin API, as an axum [`Router`] to nest under a path of the
    /// application's choosing (`admin` feature). Every endpoint needs
    /// `Authorization: Bearer <token>` (compared in constant time; `401`
    /// otherwise), and answers JSON with `Cache-Control: no-store`:
    ///
    /// - `POST /purge` with a JSON object of any of `"paths"`, `"tags"`,
    ///   `"routes"` (route ids, as `GET /routes` lists them),
    ///   `"namespace"`, `"all": true`, and `"soft": true` to mark entries
    ///   stale instead of deleting them. It runs the same invalidations as
    ///   [`RouteCache::invalidate`] and the others (generations, L1
    ///   messages and edge purges included), and answers with how many
    ///   entries each kind removed and how many edge purges were sent and
    ///   failed. An id no cached route has is refused (`400`), and nothing
    ///   is purged.
    /// - `GET /stats`: [`RouteCache::stats`], per route and cache-wide.
    /// - `GET /routes`: every cached route compiled into the program (the
    ///   registry `#[cached_route]` builds, known from start-up), with its
    ///   options (TTL, key rule, tags, stale window, revalidation,
    ///   compression, shadow mode), the paths this cache has seen it
    ///   mounted at (`mounted_at`) and whether it has served it
    ///   (`served`).
    /// - `GET /explain?url=/items/1&host=shop.example&header=accept-encoding:gzip`
    ///   (`header` may repeat): for the cached route that URL matches,
    ///   without running its handler, the key's short hash (never the
    ///   key), what went into it and why (host, path, the query fields kept
    ///   and dropped, `vary` headers, credentials, which are never shown),
    ///   the entry in the L1 and in the store (age, TTL left, stale window,
    ///   size and coding), the route's tags, and what a request would get
    ///   now: `HIT`, `STALE`, `MISS` or `BYPASS`, with the reason, and the
    ///   invalidation counters (`generations`) of what names the entry.
    ///   The URL is matched against the paths the routes were seen mounted
    ///   at (on their first request or warm-up: axum's router does not
    ///   tell them before); `&route=<id>` names the route instead, which
    ///   works from start-up. An unknown path or id is a `404`. A route
    ///   keyed by an expression over its handler's parameters cannot be
    ///   explained without running its extractors, and says so.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use cache_runtime::{cached_route, RouteCache};
    ///
    /// #[cached_route(ttl = 60)]
    /// async fn list() -> &'static str { "[]" }
    ///
    /// # fn main() -> Result<(), cache_runtime::CacheError> {
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new()
    ///     .route("/items", get(list))
    ///     .layer(cache.layer())
    ///     .nest("/_cache", cache.admin("a-long-random-operator-token")?);
    /// # Ok(()) }
    /// // curl -X POST -H 'authorization: Bearer a-long-random-operator-token' \
    /// //      -d '{"paths": ["/items"]}' http://localhost:3000/_cache/purge
    /// ```
    ///
    /// Each endpoint, through the router as a server would call it:
    ///
    /// ```
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use cache_runtime::{cached_route, RouteCache};
    /// use http_body_util::BodyExt;
    /// use tower::ServiceExt;
    ///
    /// #[cached_route(ttl = 60, tags = ["items"])]
    /// async fn list() -> &'static str { "[]" }
    ///
    /// async fn call(app: &Router, method: &str, uri: &str, body: &str) -> serde_json::Value {
    ///     let request = Request::builder()
    ///         .method(method)
    ///         .uri(uri)
    ///         .header("authorization", "Bearer a-long-random-operator-token")
    ///         .body(Body::from(body.to_owned()))
    ///         .unwrap();
    ///     let response = app.clone().oneshot(request).await.unwrap();
    ///     assert_eq!(response.headers()["cache-control"], "no-store");
    ///     let bytes = response.into_body().collect().await.unwrap().to_bytes();
    ///     serde_json::from_slice(&bytes).unwrap()
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new()
    ///     .route("/items", get(list))
    ///     .layer(cache.layer())
    ///     .nest("/_cache", cache.admin("a-long-random-operator-token").unwrap());
    /// let get_items = Request::get("/items").body(Body::empty()).unwrap();
    /// app.clone().oneshot(get_items).await.unwrap(); // a miss, stored
    ///
    /// let explained = call(&app, "GET", "/_cache/explain?url=/items", "").await;
    /// assert_eq!(explained["decision"], "HIT");
    ///
    /// let routes = call(&app, "GET", "/_cache/routes", "").await;
    /// assert_eq!(routes["routes"][0]["tags"][0], "items");
    ///
    /// let stats = call(&app, "GET", "/_cache/stats", "").await;
    /// assert_eq!(stats["routes"][0]["misses"], 1);
    ///
    /// let purged = call(&app, "POST", "/_cache/purge", r#"{"tags": ["items"]}"#).await;
    /// assert_eq!(purged["invalidated"]["tags"], 1);
    /// let explained = call(&app, "GET", "/_cache/explain?url=/items", "").await;
    /// assert_eq!(explained["decision"], "MISS");
    /// # });
    /// ```
    ///
    /// Every answer is JSON with `Cache-Control: no-store`, the `401` for a
    /// missing or wrong token, and the `404` and `405` for a path or
    /// method the API does not have, included.
    ///
    /// # Errors
    /// [`CacheError::InvalidSetting`] when `token` is shorter than 16
    /// bytes: a guessable token is a configuration error, reported when the
    /// router is built, as [`explain_header`](crate::RouteCacheBuilder::explain_header)'s
    /// is by `build`.
    pub fn admin(&self, token: impl AsRef<str>) -> Result<Router, CacheError> {
        let token = token.as_ref();
        if token.len() < MIN_TOKEN_BYTES {
            return Err(CacheError::InvalidSetting {
                setting: "admin",
                rule: "a token of at least 16 bytes (a long random one, for example from the \
                       environment)",
            });
        }
        let state = Admin {
            cache: self.clone(),
            token: Token::new(token),
        };
        Ok(Router::new()
            .route("/purge", post(purge))
            .route("/stats", get(stats))
            .route("/routes", get(routes))
            .route("/explain", get(explain))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(state))
    }
}

/// A path the API does not have: `404` (`401` without the token, so that
/// the API's paths are not probed without it).
async fn not_found(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: see `/purge`, `/explain`, `/stats`, `/routes`",
    )
}

/// A method the endpoint does not take: `405` (`401` without the token).
async fn method_not_allowed(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: `POST /purge`; `GET` the others",
    )
}

impl Admin {
    /// Whether `headers` carry the bearer token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let Some(presented) = presented else {
            return false;
        };
        self.token.matches(presented.as_bytes())
    }
}

fn unauthorized() -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "a valid `Authorization: Bearer <token>` is required",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"route-cache\""),
    );
    response
}

/// A JSON answer with `Cache-Control: no-store`.
fn answer(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON error answer: `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, &json!({ "error": message.into() }))
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

/// What a `POST /purge` asks for.
#[derive(Default)]
struct PurgeRequest {
    paths: Vec<String>,
    tags: Vec<String>,
    routes: Vec<&'static RoutePolicy>,
    namespace: Option<String>,
    all: bool,
    soft: bool,
}

impl PurgeRequest {
    /// Parses `body`; route ids must name routes `cache` has served.
    fn parse(body: &[u8], cache: &RouteCache) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let Value::Object(fields) = value else {
            return Err("the body must be a JSON object".to_owned());
        };
        let strings = |name: &str| -> Result<Vec<String>, String> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(format!("`{name}` must be a list of strings")),
                    })
                    .collect(),
                Some(_) => Err(format!("`{name}` must be a list of strings")),
            }
        };
        let flag = |name: &str| -> Result<bool, String> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(format!("`{name}` must be true or false")),
            }
        };
        const KNOWN: [&str; 6] = ["paths", "tags", "routes", "namespace", "all", "soft"];
        if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!(
                "unknown field `{unknown}`; the fields are {}",
                KNOWN.join(", ")
            ));
        }
        let namespace = match fields.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err("`namespace` must be a non-empty string".to_owned()),
        };
        let known = known_routes(cache);
        let mut routes = Vec::new();
        let mut unknown = Vec::new();
        for id in strings("routes")? {
            match known.iter().find(|p| p.route_id() == id) {
                Some(policy) => routes.push(*policy),
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "no cached route has the id {unknown:?} (GET /routes lists them)"
            ));
        }
        for path in strings("paths")? {
            if !path.starts_with('/') {
                return Err(format!("the path `{path}` must start with `/`"));
            }
        }
        let request = Self {
            paths: strings("paths")?,
            tags: strings("tags")?,
            routes,
            namespace,
            all: flag("all")?,
            soft: flag("soft")?,
        };
        if request.paths.is_empty()
            && request.tags.is_empty()
            && request.routes.is_empty()
            && request.namespace.is_none()
            && !request.all
        {
            return Err("nothing to purge: give paths, tags, routes, namespace or all".to_owned());
        }
        Ok(request)
    }
}

/// How many entries each kind of purge removed, and the edge purges.
#[derive(Default)]
struct PurgeCounts {
    paths: usize,
    tags: usize,
    routes: usize,
    namespace: usize,
    all: usize,
    edge_sent: usize,
    edge_failed: usize,
}

impl PurgeCounts {
    fn edge(&mut self, edge: EdgeStatus) {
        match edge {
            EdgeStatus::NotConfigured => {}
            EdgeStatus::Sent => self.edge_sent += 1,
            EdgeStatus::Failed => self.edge_failed += 1,
        }
    }

    fn to_json(&self, soft: bool) -> Value {
        json!({
            "soft": soft,
            "invalidated": {
                "paths": self.paths,
                "tags": self.tags,
                "routes": self.routes,
                "namespace": self.namespace,
                "all": self.all,
            },
            "edge": { "sent": self.edge_sent, "failed": self.edge_failed },
        })
    }
}

async fn run_purge(
    cache: &RouteCache,
    request: &PurgeRequest,
    done: &mut PurgeCounts,
) -> Result<(), StoreError> {
    let soft = request.soft;
    for path in &request.paths {
        let (removed, edge) = cache.invalidate_path_as(path, soft).await?;
        done.paths += removed;
        done.edge(edge);
    }
    for tag in &request.tags {
        let (removed, edge) = cache.invalidate_tag_as(tag, soft).await?;
        done.tags += removed;
        done.edge(edge);
    }
    for policy in &request.routes {
        let (removed, edge) = cache.invalidate_route_as(policy, soft).await?;
        done.routes += removed;
        done.edge(edge);
    }
    if let Some(namespace) = &request.namespace {
        let (removed, edge) = cache.invalidate_namespace_as(namespace, soft).await?;
        done.namespace += removed;
        done.edge(edge);
    }
    if request.all {
        let (removed, edge) = cache.invalidate_all_as(soft).await?;
        done.all += removed;
        done.edge(edge);
    }
    Ok(())
}

async fn purge(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    let request = match PurgeRequest::parse(&body, &admin.cache) {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    let mut done = PurgeCounts::default();
    match run_purge(&admin.cache, &request, &mut done).await {
        Ok(()) => {
            tracing::info!(
                paths = request.paths.len(),
                tags = request.tags.len(),
                routes = request.routes.len(),
                namespace = request.namespace.is_some(),
                all = request.all,
                soft = request.soft,
                "route cache: admin purge"
            );
            answer(StatusCode::OK, &done.to_json(request.soft))
        }
        Err(e) => {
            tracing::warn!(error = %e, "route cache: admin purge failed");
            let mut body = done.to_json(request.soft);
            body["error"] = Value::String(e.to_string());
            answer(StatusCode::SERVICE_UNAVAILABLE, &body)
        }
    }
}

fn route_stats_json(route: &RouteStats) -> Value {
    json!({
        "route": route.route,
        "hits": route.hits,
        "stale": route.stale,
        "collapsed": route.collapsed,
        "revalidated": route.revalidated,
        "misses": route.misses,
        "errors": route.errors,
        "bypassed": route.bypassed,
        "stored": route.stored,
        "refused": route.refused,
        "stale_on_error": route.stale_on_error,
        "shadow": {
            "match": route.shadow_matched,
            "diverged": route.shadow_diverged,
            "no_entry": route.shadow_no_entry,
        },
        "hit_ratio": route.hit_ratio(),
    })
}

async fn stats(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    let stats = admin.cache.stats();
    let body = json!({
        "backend": admin.cache.backend().to_string(),
        "routes": stats.routes.iter().map(route_stats_json).collect::<Vec<_>>(),
        "backend_errors": stats.backend_errors,
        "breaker": format!("{:?}", stats.breaker).to_ascii_lowercase(),
        "breaker_opened": stats.breaker_opened,
        "l1_live": stats.l1_live,
        "l1_hits": stats.l1_hits,
        "l1_flushes": stats.l1_flushes,
        "entries": stats.entries,
        "bytes": stats.bytes,
        "evictions": stats.evictions,
        "index_bytes": stats.index_bytes,
        "invalidations": stats.invalidations,
        "invalidated_keys": stats.invalidated_keys,
    });
    answer(StatusCode::OK, &body)
}

/// A route's options, as `GET /routes` lists them.
fn route_json(cache: &RouteCache, policy: &RoutePolicy) -> Value {
    let config = cache.config();
    let key = match policy.key_source() {
        KeySource::Request => "request",
        KeySource::Function => "function",
        KeySource::Handler => "expression",
    };
    let mut route = Map::new();
    route.insert("route".into(), policy.route_id().into());
    // The route's segment of its keys: a hash of the id, which keys and
    // generation counters carry instead of the module path.
    route.insert("route_key".into(), policy.key_id().into());
    route.insert("ttl".into(), policy.ttl_secs().into());
    route.insert("key".into(), key.into());
    route.insert("query".into(), format!("{:?}", policy.query()).into());
    route.insert("vary".into(), policy.vary().to_vec().into());
    route.insert("host".into(), policy.keys_host().into());
    route.insert("namespace".into(), policy.namespace().into());
    route.insert("tags".into(), policy.tags().to_vec().into());
    route.insert("stale".into(), policy.stale_secs_under(config).into());
    route.insert("revalidate".into(), policy.revalidates().into());
    let compress = policy
        .compression_under(config)
        .map(|coding| coding.to_string());
    route.insert("compress".into(), compress.into());
    route.insert("shadow".into(), policy.shadows_under(config).into());
    route.insert(
        "refresh_ahead".into(),
        policy
            .refresh_ahead()
            .map(|permille| f64::from(permille) / 1000.0)
            .into(),
    );
    route.insert("negative".into(), policy.negative().to_vec().into());
    Value::Object(route)
}

async fn routes(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    let cache = &admin.cache;
    let id = cache.inner.metrics.id;
    let served = cache.inner.metrics.routes.policies();
    let routes: Vec<Value> = known_routes(cache)
        .into_iter()
        .map(|policy| {
            let mut route = route_json(cache, policy);
            if let Value::Object(fields) = &mut route {
                let mounted = crate::explain::mount_points(id, policy.route_id());
                fields.insert("mounted_at".into(), mounted.into());
                let seen = served.iter().any(|p| p.route_id() == policy.route_id());
                fields.insert("served".into(), seen.into());
            }
            route
        })
        .collect();
    answer(StatusCode::OK, &json!({ "routes": routes }))
}

/// Every cached route compiled into the program, and any route `cache`
/// served that is not (a policy built by hand), by route id.
fn known_routes(cache: &RouteCache) -> Vec<&'static RoutePolicy> {
    let mut policies: Vec<&'static RoutePolicy> =
        crate::explain::registered().map(|r| r.policy).collect();
    policies.extend(cache.inner.metrics.routes.policies());
    // Stable: a route both registered and served is kept once.
    policies.sort_by_key(|p| p.route_id());
    policies.dedup_by_key(|p| p.route_id());
    policies
}

/// `%XX` and `+` decoded, as in a form-encoded query.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = crate::key::hex_val;
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high * 16 + low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query string's `name=value` pairs, decoded.
fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The request `GET /explain` describes: its parts, as the route would
/// see them.
fn probe(
    url: &http::Uri,
    host: Option<&str>,
    headers: &[(String, String)],
) -> Result<http::request::Parts, String> {
    let target = url.path_and_query().map_or("/", |pq| pq.as_str());
    let mut request = http::Request::builder()
        .method(http::Method::GET)
        .uri(target);
    let host = host.or_else(|| url.authority().map(http::uri::Authority::as_str));
    if let Some(host) = host {
        request = request.header(header::HOST, host);
    }
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let (parts, ()) = request
        .body(())
        .map_err(|e| format!("cannot build the request: {e}"))?
        .into_parts();
    Ok(parts)
}

/// What went into the key for `parts` on the route `learned` describes.
fn key_inputs(
    cache: &RouteCache,
    learned: &crate::explain::MountedRoute,
    parts: &http::request::Parts,
) -> Value {
    let policy = learned.route.policy;
    let config = cache.config();
    // The parameters' names as the request spells them, judged by the
    // key's own rule, and shown decoded.
    let names = |kept: bool, rule: crate::key::QueryPolicy| -> Vec<String> {
        parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| piece.split_once('=').map_or(piece, |(name, _)| name))
            .filter(|name| crate::key::keeps_param(rule, name.as_bytes()) == kept)
            .map(decode)
            .collect()
    };
    let query_json = match policy.key_source() {
        KeySource::Request => {
            let rule = (learned.route.query)();
            let (name, why) = match rule {
                crate::key::QueryPolicy::All => (
                    "all",
                    "every parameter: the handler reads the query in a way the macro cannot see into, or `query = all`",
                ),
                crate::key::QueryPolicy::Ignore => ("none", "the handler reads no query, or `query = none`"),
                crate::key::QueryPolicy::Allow(_) => (
                    "fields",
                    "only the fields the handler's `Query<T>` reads (or `query = [..]`); other parameters share the entry",
                ),
            };
            json!({ "rule": name, "why": why, "kept": names(true, rule), "dropped": names(false, rule) })
        }
        KeySource::Function => {
            json!({ "rule": "key", "why": "`key = ..` replaces the path and query" })
        }
        KeySource::Handler => {
            json!({ "rule": "key", "why": "`key = ..` over the handler's parameters" })
        }
    };
    let credentials: Vec<&str> = config
        .credential_headers()
        .filter(|name| parts.headers.contains_key(*name))
        .map(http::HeaderName::as_str)
        .collect();
    let keyed_credentials: Vec<&str> = credentials
        .iter()
        .copied()
        .filter(|name| {
            policy.auth() == crate::policy::AuthPolicy::Private
                || policy.vary().iter().any(|v| v.eq_ignore_ascii_case(name))
        })
        .collect();
    let vary: Vec<Value> = policy
        .vary()
        .iter()
        .map(|name| {
            json!({
                "header": name,
                "present": parts.headers.contains_key(*name),
                // A credential's value is keyed as an HMAC, never shown.
                "credential": config.is_credential(name),
            })
        })
        .collect();
    json!({
        "method": "GET",
        "host": if policy.keys_host() {
            json!({ "keyed": true, "value": parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()) })
        } else {
            json!({ "keyed": false, "why": "the handler cannot read the host (or `host = false`)" })
        },
        "path": parts.uri.path(),
        "query": query_json,
        "vary": vary,
        "credentials": {
            "present": credentials,
            "keyed": keyed_credentials,
            "how": "an HMAC-SHA-256 of each keyed credential under the key secret; values are never shown",
            "auth": format!("{:?}", policy.auth()).to_ascii_lowercase(),
        },
        "namespace": policy.namespace(),
        "prefix": config.prefix,
    })
}

/// An entry as `GET /explain` reports it.
fn entry_json(entry: &crate::entry::Entry, now: u64) -> Value {
    let age_ms = now.saturating_sub(entry.stored_at_ms);
    let ttl_ms = u64::from(entry.ttl_secs) * 1000;
    let stale_ms = u64::from(entry.stale_secs) * 1000;
    json!({
        "status": entry.status.as_u16(),
        "age_secs": age_ms / 1000,
        "ttl_left_secs": ttl_ms.saturating_sub(age_ms) / 1000,
        "stale_left_secs": (ttl_ms + stale_ms).saturating_sub(age_ms.max(ttl_ms)) / 1000,
        "bytes": entry.body.len(),
        "encoding": entry.encoding.map_or_else(|| "identity".to_owned(), |e| e.to_string()),
        "freshness": format!("{:?}", entry.freshness(now)).to_ascii_lowercase(),
    })
}

/// The invalidation counters of everything that names the entry (its path
/// index, its static tags, its route, its namespace, everything), as they
/// are now: a fill that noted one of them before it moved stores nothing
/// (see `crate::fill::generation`). `0`: never bumped.
async fn generations_json(
    cache: &RouteCache,
    learned: &crate::explain::MountedRoute,
    parts: &http::request::Parts,
) -> Value {
    let policy = learned.route.policy;
    let prefix = &cache.config().prefix;
    let path = crate::key::path_index(
        prefix,
        parts.uri.path().as_bytes(),
        parts.uri.query().map(str::as_bytes),
        (learned.route.query)(),
    );
    // Tags with `{param}` templates are known only once the handler's
    // parameters are.
    let tags: Vec<&str> = policy
        .tags()
        .iter()
        .copied()
        .filter(|tag| !tag.contains('{'))
        .collect();
    let tag_indexes: Vec<String> = tags
        .iter()
        .map(|tag| crate::key::tag_index(prefix, tag))
        .collect();
    let indexes = std::iter::once(path.as_str()).chain(tag_indexes.iter().map(String::as_str));
    let keys =
        crate::fill::generation::keys_for(prefix, policy.namespace(), policy.key_id(), indexes);
    let noted = cache.note(keys).await;
    let Some(values) = noted.values else {
        return json!({ "error": "the backend failed to read the counters" });
    };
    // `keys_for`'s order: the path, the tags, the route, the namespace if
    // any, everything.
    let mut values = values.into_iter();
    let mut next = || values.next().map_or(Value::Null, Value::from);
    let path = next();
    let tags: Map<String, Value> = tags.iter().map(|tag| ((*tag).to_owned(), next())).collect();
    let route = next();
    let namespace = if policy.namespace().is_some() {
        next()
    } else {
        Value::Null
    };
    let all = next();
    json!({
        "path": path,
        "tags": tags,
        "route": route,
        "namespace": namespace,
        "all": all,
        "meaning": "each invalidation bumps the counter of what it names before it deletes; a fill keeps its entry only if none moved while its handler ran",
    })
}

async fn explain(State(admin): State<Admin>, headers: HeaderMap, uri: http::Uri) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    let params = uri.query().map(pairs).unwrap_or_default();
    let Some(url) = params
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone())
    else {
        return bad_request("give the URL to explain: `?url=/items/1`");
    };
    let Ok(url) = url.parse::<http::Uri>() else {
        return bad_request(format!("`{url}` is not a URL"));
    };
    let host = params
        .iter()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.as_str());
    let mut extra = Vec::new();
    for (_, header) in params.iter().filter(|(k, _)| k == "header") {
        match header.split_once(':') {
            Some((name, value)) => extra.push((name.trim().to_owned(), value.trim().to_owned())),
            None => return bad_request(format!("`header={header}` must be `name:value`")),
        }
    }
    let cache_id = admin.cache.inner.metrics.id;
    let named = params
        .iter()
        .find(|(k, _)| k == "route")
        .map(|(_, v)| v.as_str());
    let learned = match named {
        // The route named: its mount point is the URL's only if it was
        // seen there.
        Some(id) => match crate::explain::registered_route(id) {
            Some(registered) => crate::explain::MountedRoute {
                cache: cache_id,
                template: crate::explain::find(cache_id, url.path())
                    .filter(|m| m.route.policy.route_id() == id)
                    .map(|m| m.template)
                    .unwrap_or_default(),
                route: *registered,
            },
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no cached route has the id `{id}` (GET /routes lists them)"),
                )
            }
        },
        None => match crate::explain::find(cache_id, url.path()) {
            Some(learned) => learned,
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                    "no cached route this instance has served is mounted at a path matching `{}`: \
                         mount points are learned on a route's first request or warm-up; name the \
                         route with `&route=<id>` (GET /routes lists them)",
                    url.path()
                ),
                )
            }
        },
    };
    let parts = match probe(&url, host, &extra) {
        Ok(parts) => parts,
        Err(message) => return bad_request(message),
    };
    let cache = &admin.cache;
    let mut body = Map::new();
    body.insert("route".into(), route_json(cache, learned.route.policy));
    let mounted_at = if learned.template.is_empty() {
        Value::Null
    } else {
        learned.template.clone().into()
    };
    body.insert("mounted_at".into(), mounted_at);
    body.insert("inputs".into(), key_inputs(cache, &learned, &parts));
    let key = match (learned.route.key)(cache, &parts) {
        Ok(key) => key,
        Err(unkeyed) => {
            let (decision, reason) = match unkeyed {
                KeyUnknown::Bypass(why) => ("BYPASS", why.as_str()),
                KeyUnknown::Expression => (
                    "UNKNOWN",
                    "the key is an expression over the handler's parameters, known only once its extractors run",
                ),
            };
            body.insert("key".into(), Value::Null);
            body.insert("decision".into(), decision.into());
            body.insert("reason".into(), reason.into());
            return answer(StatusCode::OK, &Value::Object(body));
        }
    };
    body.insert("key".into(), json!({ "hash": cache.key_name(&key) }));
    let now = crate::clock::now_ms();
    let l1 = cache
        .inner
        .l1
        .as_deref()
        .and_then(|l1| l1.get(&key, now))
        .map(|entry| entry_json(entry.entry(), now));
    let stored = match cache.raw_get(&key).await {
        Ok(Some(value)) => match crate::entry::prepared::Prepared::decode(value) {
            Ok(entry) => Ok(Some(entry)),
            Err(_) => Err("the stored value is corrupt (a miss)".to_owned()),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(format!("the backend failed: {e}")),
    };
    let l1_fresh = l1.as_ref().is_some_and(|l1| l1["freshness"] == "fresh");
    body.insert("l1".into(), l1.unwrap_or(Value::Null));
    let store = match &stored {
        Ok(Some(entry)) => entry_json(entry.entry(), now),
        Ok(None) => Value::Null,
        Err(message) => json!({ "error": message }),
    };
    body.insert("store".into(), store);
    let (decision, reason) = match &stored {
        // A fresh L1 copy answers before the store is asked.
        _ if l1_fresh => ("HIT", "a fresh entry is in this instance's L1"),
        Ok(Some(entry)) => match entry.entry().freshness(now) {
            crate::entry::Freshness::Fresh => ("HIT", "a fresh entry is stored"),
            crate::entry::Freshness::Stale if entry.entry().stale_on_error_only => (
                "MISS",
                "expired; kept only to stand in for a failing handler",
            ),
            crate::entry::Freshness::Stale => (
                "STALE",
                "expired, inside its stale window: served while refreshed",
            ),
            crate::entry::Freshness::Expired => ("MISS", "the stored entry has expired"),
        },
        Ok(None) => ("MISS", "nothing is stored for the key"),
        Err(_) => ("MISS", "the store could not be read"),
    };
    body.insert(
        "generations".into(),
        generations_json(cache, &learned, &parts).await,
    );
    body.insert("tags".into(), learned.route.policy.tags().to_vec().into());
    body.insert("decision".into(), decision.into());
    body.insert("reason".into(), reason.into());
    answer(StatusCode::OK, &Value::Object(body))
}

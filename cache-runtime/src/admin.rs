//! The admin API (`admin` feature): [`RouteCache::admin`] returns an axum
//! [`Router`] to nest under a path the application picks, whose endpoints
//! purge, list the cached routes and report the counts, each behind a
//! bearer token compared in constant time. Answers are JSON with
//! `Cache-Control: no-store`.

use crate::cache::RouteCache;
use crate::error::StoreError;
use crate::invalidate::EdgePurged;
use crate::observe::{Purge, RouteStats};
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
    ///   failed. A route this instance has not served is refused (`400`),
    ///   and nothing is purged.
    /// - `GET /stats`: [`RouteCache::stats`], per route and cache-wide.
    /// - `GET /routes`: every route this instance has served since it
    ///   started, with its options (TTL, key rule, tags, stale window,
    ///   revalidation, compression, shadow mode).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use cache_runtime::{cached_route, RouteCache};
    ///
    /// #[cached_route(ttl = 60)]
    /// async fn list() -> &'static str { "[]" }
    ///
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new()
    ///     .route("/items", get(list))
    ///     .layer(cache.layer())
    ///     .nest("/_cache", cache.admin("a-long-random-operator-token"));
    /// // curl -X POST -H 'authorization: Bearer a-long-random-operator-token' \
    /// //      -d '{"paths": ["/items"]}' http://localhost:3000/_cache/purge
    /// ```
    ///
    /// # Panics
    /// When `token` is shorter than 16 bytes: a guessable token is a
    /// configuration error, reported when the router is built (like an
    /// invalid route path in axum), not a request later.
    pub fn admin(&self, token: impl AsRef<str>) -> Router {
        let token = token.as_ref();
        assert!(
            token.len() >= MIN_TOKEN_BYTES,
            "RouteCache::admin: the token must be at least {MIN_TOKEN_BYTES} bytes (it is {}); \
             use a long random one, for example from the environment",
            token.len()
        );
        let state = Admin {
            cache: self.clone(),
            token: Token::new(token),
        };
        Router::new()
            .route("/purge", post(purge))
            .route("/stats", get(stats))
            .route("/routes", get(routes))
            .with_state(state)
    }
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
    let mut response = answer(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": "a valid `Authorization: Bearer <token>` is required" }),
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

fn bad_request(message: impl Into<String>) -> Response {
    answer(StatusCode::BAD_REQUEST, &json!({ "error": message.into() }))
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
        let served = cache.inner.metrics.routes.policies();
        let mut routes = Vec::new();
        let mut unknown = Vec::new();
        for id in strings("routes")? {
            match served.iter().find(|p| p.route_id() == id) {
                Some(policy) => routes.push(*policy),
                None => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "no route with the id {unknown:?} has been served by this instance (GET /routes lists them)"
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
struct Purged {
    paths: usize,
    tags: usize,
    routes: usize,
    namespace: usize,
    all: usize,
    edge_sent: usize,
    edge_failed: usize,
}

impl Purged {
    fn edge(&mut self, edge: EdgePurged) {
        match edge {
            EdgePurged::NotConfigured => {}
            EdgePurged::Sent => self.edge_sent += 1,
            EdgePurged::Failed => self.edge_failed += 1,
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
    done: &mut Purged,
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
        let target = cache.route_target_of(policy);
        done.routes += cache.invalidate_as(Purge::Route, target, soft).await?;
    }
    if let Some(namespace) = &request.namespace {
        let target = cache.namespace_target(namespace);
        done.namespace += cache.invalidate_as(Purge::Namespace, target, soft).await?;
    }
    if request.all {
        done.all += cache
            .invalidate_as(Purge::All, cache.all_target(), soft)
            .await?;
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
    let mut done = Purged::default();
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
pub(crate) fn route_json(cache: &RouteCache, policy: &RoutePolicy) -> Value {
    let config = cache.config();
    let key = match policy.key_source() {
        KeySource::Request => "request",
        KeySource::Function => "function",
        KeySource::Handler => "expression",
    };
    let mut route = Map::new();
    route.insert("route".into(), policy.route_id().into());
    route.insert("ttl".into(), policy.ttl_secs().into());
    route.insert("key".into(), key.into());
    route.insert("query".into(), format!("{:?}", policy.query()).into());
    route.insert("vary".into(), policy.vary().to_vec().into());
    route.insert("host".into(), policy.keys_host().into());
    route.insert("namespace".into(), policy.namespace().into());
    route.insert("tags".into(), policy.tags().to_vec().into());
    route.insert(
        "stale".into(),
        policy
            .stale_secs()
            .map_or(config.stale.as_secs(), u64::from)
            .into(),
    );
    route.insert("revalidate".into(), policy.revalidates().into());
    let compress = policy
        .compress()
        .unwrap_or(config.compression)
        .map(|coding| coding.to_string());
    route.insert("compress".into(), compress.into());
    route.insert("shadow".into(), (policy.shadow() || config.shadow).into());
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
    let routes: Vec<Value> = admin
        .cache
        .inner
        .metrics
        .routes
        .policies()
        .into_iter()
        .map(|policy| route_json(&admin.cache, policy))
        .collect();
    answer(StatusCode::OK, &json!({ "routes": routes }))
}

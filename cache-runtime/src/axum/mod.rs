//! axum integration: the layer that installs the cache (`layer`), the
//! hidden request extractor the macro inserts (here: it derives the key and
//! reads what the request asks of the cache), and the hit/miss flow
//! (`flow`, whose docs map both paths).

#[cfg(feature = "admin")]
mod admin;
mod body;
mod conditional;
mod counted;
mod exchange;
mod fill;
pub(crate) mod flow;
mod layer;
mod respond;
mod revalidate;
mod shadow;
mod storable;
mod tee;
mod warm;

pub(crate) use self::exchange::{keys_credentials, ClientDirective, Intent, RequestTarget};
pub use self::layer::{CacheLayer, CacheService};
pub use self::warm::WarmOutcome;

use self::exchange::full_uri;
use crate::cache::RouteCache;
use crate::cached::CachedRoute;
use crate::http::semantics::{cache_status, CacheControl, CacheStatus};
use crate::key::{host, KeyBuilder};
use crate::observe::{Bypass, RouteHandle};
use crate::policy::{AuthPolicy, KeySource};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::{request::Parts, HeaderValue, Method};
use std::{convert::Infallible, fmt, marker::PhantomData};

/// What a cached handler needs from the request, computed by the hidden
/// extractor the macro inserts: the cache handle and, for requests the cache
/// may answer, the route's key so far and the request's conditions. Never
/// fails.
pub struct RequestContext<R> {
    state: Context,
    route: PhantomData<fn() -> R>,
}

pub(crate) enum Context {
    /// No `RouteCache` in the request extensions.
    NoLayer,
    /// Not for the cache (method, credentials); the `Cache-Status` to send.
    Bypass(UncachedRequest),
    RequestKey(RequestKey),
}

/// A request the cache does not answer.
pub(crate) struct UncachedRequest {
    /// The route's counters on the cache.
    pub(crate) metrics: RouteHandle,
    pub(crate) reason: Bypass,
    /// The `Cache-Status` to send.
    pub(crate) status: HeaderValue,
}

/// A request the cache may answer.
pub(crate) struct RequestKey {
    pub(crate) cache: RouteCache,
    /// The route's counters on this cache (looked up once per request).
    pub(crate) metrics: RouteHandle,
    pub(crate) key: KeyBuilder,
    /// The request target, for the entry's path index.
    pub(crate) target: RequestTarget,
    pub(crate) request: Intent,
    /// What [`FromCacheParts::prepare`] found, on a route that
    /// revalidates (boxed: one word in every other request's context).
    pub(crate) prepared: Option<Box<Prefetch>>,
}

/// A revalidating route's lookup, made before the user's extractors ran.
pub(crate) struct Prefetch {
    /// The finished key (such a route keys on the request alone).
    pub(crate) key: String,
    pub(crate) found: Found,
}

pub(crate) enum Found {
    /// The lookup, for the flow to answer from.
    Lookup(crate::fill::lookup::Lookup),
    /// An expired entry the handler is asked to revalidate (it sees
    /// `If-None-Match`/`If-Modified-Since` for it).
    Revalidate(std::sync::Arc<crate::entry::prepared::Prepared>),
}

impl RequestKey {
    /// For a route that revalidates: looks the entry up before the user's
    /// extractors run, and when it has expired and carries a validator,
    /// makes the request the handler sees conditional on it (RFC 9111
    /// §4.3.1). Otherwise the lookup is kept for the flow.
    async fn prepare_revalidation(&mut self, parts: &mut Parts, generations: Vec<String>) {
        let key = self.key.clone().finish();
        // Only a GET without client directives gets here: it may lease,
        // noting the `generations` known so far.
        let lookup = self.cache.lookup(&key, Some(|| generations)).await;
        let found = Self::revalidation(lookup, parts);
        self.prepared = Some(Box::new(Prefetch { key, found }));
    }

    /// An expired entry with a validator, with the request made
    /// conditional on it; any other lookup as it is.
    fn revalidation(lookup: crate::fill::lookup::Lookup, parts: &mut Parts) -> Found {
        use crate::entry::Freshness;
        if let crate::fill::lookup::Lookup::Hit(entry) = &lookup {
            let stored = entry.entry();
            let expired = stored.freshness(crate::clock::now_ms()) == Freshness::Expired;
            let modified = stored
                .headers
                .iter()
                .find(|(name, _)| name == http::header::LAST_MODIFIED)
                .map(|(_, value)| value.clone());
            if expired && (stored.etag.is_some() || modified.is_some()) {
                let headers = &mut parts.headers;
                headers.remove(http::header::IF_NONE_MATCH);
                headers.remove(http::header::IF_MODIFIED_SINCE);
                if let Some(etag) = &stored.etag {
                    headers.insert(http::header::IF_NONE_MATCH, etag.clone());
                }
                if let Some(modified) = modified {
                    headers.insert(http::header::IF_MODIFIED_SINCE, modified);
                }
                return Found::Revalidate(std::sync::Arc::clone(entry));
            }
        }
        Found::Lookup(lookup)
    }
}

impl<R> fmt::Debug for RequestContext<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            Context::NoLayer => "no layer",
            Context::Bypass(_) => "bypass",
            Context::RequestKey(_) => "keyed",
        };
        f.debug_struct("RequestContext")
            .field("state", &state)
            .finish()
    }
}

impl<R> RequestContext<R> {
    pub(crate) fn into_state(self) -> Context {
        self.state
    }
}

/// What the generated code extracts ahead of the user's first extractor;
/// computed from the request parts, never failing.
pub trait FromCacheParts: Sized + Send {
    /// Computes the context for this request.
    fn from_cache_parts(parts: &Parts) -> Self;

    /// Runs before the user's extractors, which see what it leaves in
    /// `parts` (revalidation makes the request conditional).
    fn prepare(&mut self, parts: &mut Parts) -> impl std::future::Future<Output = ()> + Send {
        let _ = parts;
        std::future::ready(())
    }
}

impl<R: CachedRoute> FromCacheParts for RequestContext<R> {
    fn from_cache_parts(parts: &Parts) -> Self {
        Self {
            state: context::<R>(parts),
            route: PhantomData,
        }
    }

    async fn prepare(&mut self, parts: &mut Parts) {
        let policy = &R::POLICY;
        if !policy.revalidates() || policy.key_source() == KeySource::Handler {
            return;
        }
        let Context::RequestKey(keyed) = &mut self.state else {
            return;
        };
        if keyed.request.head || keyed.request.client != ClientDirective::None {
            return;
        }
        // What the fill will note, but for its tags (not known yet; the
        // miss notes them before the handler runs).
        let prefix = &keyed.cache.config().prefix;
        let path = crate::key::path_index(
            prefix,
            keyed.target.path().as_bytes(),
            keyed.target.query().map(str::as_bytes),
            R::query(),
        );
        let generations = crate::fill::generation::keys_for(
            prefix,
            policy.namespace(),
            policy.key_id(),
            [path.as_str()],
        );
        // Boxed: only revalidating routes carry the lookup's state.
        Box::pin(keyed.prepare_revalidation(parts, generations)).await;
    }
}

impl<R: CachedRoute, S: Send + Sync> FromRequestParts<S> for RequestContext<R> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_cache_parts(parts))
    }
}

/// The cache handle for an `#[invalidates]` handler: the router's
/// [`RouteCache`], if the layer is installed.
#[derive(Debug)]
pub struct Invalidation {
    cache: Option<RouteCache>,
}

impl FromCacheParts for Invalidation {
    fn from_cache_parts(parts: &Parts) -> Self {
        Self {
            cache: parts.extensions.get::<RouteCache>().cloned(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Invalidation {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_cache_parts(parts))
    }
}

/// Runs an `#[invalidates]` handler's body and, after a 2xx response,
/// invalidates `tags` and `paths` (softly with `soft`), then returns the
/// response: awaited, so that a client reading after the response sees the
/// new data. Body and invalidation run on a task of their own, detached
/// from the request: a client, load balancer or `TimeoutLayer` giving up
/// after the handler's commit drops the request, not the invalidation,
/// which runs to completion, each call bounded by `invalidate_timeout`. A
/// failed invalidation is logged and counted, and does not change the
/// response; a panic in the body reaches the caller as it would have.
pub async fn invalidate_after<F>(
    ctx: Invalidation,
    tags: Vec<String>,
    paths: Vec<String>,
    soft: bool,
    body: F,
) -> Response
where
    F: std::future::Future + Send + 'static,
    F::Output: IntoResponse,
{
    let task = tokio::spawn(async move {
        let mut response = body.await.into_response();
        if response.status().is_success() {
            invalidate_targets(ctx.cache, &tags, &paths, soft).await;
            // The layer's own invalidation of the request's target
            // (RFC 9111 §4.4) leaves out what this one did, and follows
            // its choice of hard or soft.
            response
                .extensions_mut()
                .insert(layer::InvalidationRecord { paths, soft });
        }
        response
    });
    match task.await {
        Ok(response) => response,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: only a runtime shutting down does that.
            Err(_) => http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
    }
}

/// `#[invalidates]`'s invalidations, after a successful response.
async fn invalidate_targets(
    cache: Option<RouteCache>,
    tags: &[String],
    paths: &[String],
    soft: bool,
) {
    let Some(cache) = cache else {
        tracing::error!(
            "route cache: #[invalidates] handler on a router without the RouteCache layer; nothing invalidated"
        );
        return;
    };
    let cache = &cache;
    let tags = tags.iter().map(|tag| async move {
        if soft {
            cache.soft().invalidate_tag(tag).await
        } else {
            cache.invalidate_tag(tag).await
        }
    });
    let paths = paths.iter().map(|path| async move {
        if soft {
            cache.soft().invalidate(path).await
        } else {
            cache.invalidate(path).await
        }
    });
    // Failures are logged and counted by the cache.
    let _ = futures_util::future::join(
        futures_util::future::join_all(tags),
        futures_util::future::join_all(paths),
    )
    .await;
}

/// `value` as one path segment, for `#[invalidates(paths = ["/items/{id}"])]`:
/// the bytes a request path carries percent-encoded (`/`, `?`, `#`, `%`,
/// space, controls, non-ASCII) are encoded, so that an id such as `a/b`
/// names the entry stored for `/items/a%2Fb`. Keys canonicalise the rest.
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'/' | b'?' | b'#' | b'%') {
            out.push(char::from(byte));
        } else {
            crate::key::push_encoded(&mut out, byte);
        }
    }
    out
}

fn context<R: CachedRoute>(parts: &Parts) -> Context {
    match parts.extensions.get::<RouteCache>() {
        Some(cache) => context_with::<R>(cache, parts),
        None => Context::NoLayer,
    }
}

impl RouteCache {
    /// The key a `GET` of `path_and_query` (for example `/items/42?x=1`),
    /// with no headers, has on the route `R` (named with
    /// [`route!`](crate::route)): with the route's namespace, its `query`
    /// rule and its `vary` headers (absent here). `None` when the route
    /// keys on an expression over its handler's parameters (`key =
    /// format!(…)`), which only a request's extractors can compute.
    ///
    /// ```
    /// use cache_runtime::{cached_route, route, RouteCache};
    ///
    /// #[cached_route(ttl = 60, namespace = "v2", query = ["page"])]
    /// async fn list() -> &'static str { "[]" }
    ///
    /// let cache = RouteCache::embedded();
    /// let key = cache.key_for::<route!(list)>("/items?page=2&utm=x").unwrap();
    /// assert!(key.starts_with("rc:v2:"), "{key}");
    /// assert!(key.ends_with(":GET:/items?page=2"), "{key}");
    /// ```
    pub fn key_for<R: CachedRoute>(&self, path_and_query: &str) -> Option<String> {
        let request = http::Request::get(path_and_query).body(()).ok()?;
        self.key_for_request::<R>(&request)
    }

    /// The key `request` has on the route `R`, exactly as the route derives
    /// it: path and query by its `query` rule (or its `key` function), its
    /// `vary` headers' values, and for `private` routes the digests of the
    /// credentials. `HEAD` shares the `GET` key. `None` when the route
    /// would not use the cache for this request (another method, or
    /// credentials on a route that does not key on them) or keys on an
    /// expression over its handler's parameters.
    pub fn key_for_request<R: CachedRoute>(
        &self,
        request: &http::Request<impl Sized>,
    ) -> Option<String> {
        if R::POLICY.key_source() == KeySource::Handler {
            return None;
        }
        let mut builder = http::Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .body(())
            .ok()?;
        *builder.headers_mut() = request.headers().clone();
        let (parts, ()) = builder.into_parts();
        match context_with::<R>(self, &parts) {
            Context::RequestKey(keyed) => Some(keyed.key.finish()),
            Context::Bypass(_) | Context::NoLayer => None,
        }
    }
}

/// Tells the admin API's explain where the route `R` is mounted, on its
/// first request (then one flag load per request).
#[cfg(feature = "admin")]
fn learn_mount<R: CachedRoute>(cache: &RouteCache, route: &RouteHandle, parts: &Parts) {
    use std::sync::atomic::Ordering;
    if route.mounted.load(Ordering::Relaxed) {
        return;
    }
    let Some(matched) = parts.extensions.get::<::axum::extract::MatchedPath>() else {
        return;
    };
    crate::explain::learn(crate::explain::MountedRoute {
        cache: cache.inner.metrics.id,
        template: matched.as_str().to_owned(),
        route: registered::<R>(),
    });
    route.mounted.store(true, Ordering::Relaxed);
}

/// The registry entry of the route `R`, as the code `#[cached_route]`
/// generates submits it.
#[cfg(feature = "admin")]
pub const fn registered<R: CachedRoute>() -> crate::explain::RouteRegistration {
    crate::explain::RouteRegistration {
        policy: &R::POLICY,
        key: explain_key::<R>,
        query: R::query,
    }
}

/// The key `R` gives `parts`, or why the request would bypass.
#[cfg(feature = "admin")]
fn explain_key<R: CachedRoute>(
    cache: &RouteCache,
    parts: &Parts,
) -> Result<String, crate::explain::KeyUnknown> {
    use crate::explain::KeyUnknown;
    if R::POLICY.key_source() == KeySource::Handler {
        return Err(KeyUnknown::Expression);
    }
    match context_with::<R>(cache, parts) {
        Context::RequestKey(keyed) => Ok(keyed.key.finish()),
        Context::Bypass(bypassed) => Err(KeyUnknown::Bypass(bypassed.reason)),
        Context::NoLayer => Err(KeyUnknown::Bypass(Bypass::NoLayer)),
    }
}

fn context_with<R: CachedRoute>(cache: &RouteCache, parts: &Parts) -> Context {
    let policy = &R::POLICY;
    let route = cache.inner.metrics.route::<R>();
    #[cfg(feature = "admin")]
    learn_mount::<R>(cache, &route, parts);
    let bypass = |reason: Bypass| {
        Context::Bypass(UncachedRequest {
            metrics: route.clone(),
            reason,
            status: cache_status(&cache.config().status_name, CacheStatus::Bypass { reason }),
        })
    };
    if cache.inner.disabled.is_some() {
        return bypass(Bypass::Disabled);
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return bypass(Bypass::Method);
    }

    // A request with credentials may get a response meant for its user
    // only; it shares an entry only where the route says how, whatever its
    // key comes from.
    let config = cache.config();
    let bypass_credentials = policy.auth() == AuthPolicy::Bypass;
    // One pass over the request's fields finds what the route reads.
    let fields =
        conditional::RequestFields::scan(&parts.headers, bypass_credentials.then_some(config));
    if bypass_credentials {
        let keyed_on = |name: &str| policy.vary().iter().any(|v| v.eq_ignore_ascii_case(name));
        // The rare request that carries a credential header is reported
        // by the configured order.
        if fields.credential {
            for name in config.credential_headers() {
                if parts.headers.contains_key(name) && !keyed_on(name.as_str()) {
                    return bypass(Bypass::credential(name));
                }
            }
        }
    }

    // The route's scope (prefix, namespace, route, `GET`), made once.
    let mut key = route.key(policy, &config.prefix);
    let uri = full_uri(&parts.extensions, &parts.uri);
    let path = uri.path().as_bytes();
    let query = uri.query().map(str::as_bytes);
    // The host first, so that no request for one host reads or writes
    // another host's entries (web cache poisoning through `Host`); only
    // for routes whose handler can see it.
    if policy.keys_host() {
        match host::request_host(parts, uri, config.forwarded_hops()) {
            host::RequestHost::Named { host, https } => {
                key.host(host::without_default_port(host, https));
            }
            host::RequestHost::Missing => {}
            host::RequestHost::Conflicting => return bypass(Bypass::Host),
        }
    }
    match policy.key_source() {
        KeySource::Function => match R::key(parts) {
            Some(value) => key.custom(&value),
            None => key.path_and_query(path, query, R::query()),
        },
        // The handler's expression is added by `serve_with`.
        KeySource::Handler => {}
        _ => key.path_and_query(path, query, R::query()),
    }
    for name in policy.vary() {
        let secret = config.is_credential(name).then_some(&config.key_secret);
        add_vary_value(&mut key, parts, name, secret);
    }
    if policy.auth() == AuthPolicy::Private {
        // Per user: the credentials' digests, never the credentials.
        for name in config.credential_headers() {
            if !policy.vary().contains(&name.as_str()) {
                add_vary_value(&mut key, parts, name.as_str(), Some(&config.key_secret));
            }
        }
    }

    // Without `Cache-Control` or `Pragma`, the client asks for nothing.
    let honor = fields.directives && policy.honor_client().unwrap_or(config.honor_client);
    let client = if honor {
        let cc = CacheControl::parse_request(&parts.headers);
        if cc.no_store {
            ClientDirective::NoStore
        } else if cc.wants_revalidation() {
            ClientDirective::Refresh
        } else {
            ClientDirective::None
        }
    } else {
        ClientDirective::None
    };

    Context::RequestKey(RequestKey {
        cache: cache.clone(),
        metrics: route,
        key,
        target: RequestTarget::of(uri),
        prepared: None,
        request: Intent {
            head: parts.method == Method::HEAD,
            // Looked for only when the cache has an explain header.
            explain: config.explain.is_some()
                && parts.extensions.get::<layer::ExplainRequested>().is_some(),
            conditions: conditional::Conditions::from_fields(&fields, parts.method == Method::GET),
            client,
        },
    })
}

/// Adds a request header's value(s) to the key, as a MAC under `secret`
/// when it carries credentials (`secret` is then given); several fields of
/// one name are joined with `, ` as HTTP combines them.
fn add_vary_value(
    key: &mut KeyBuilder,
    parts: &Parts,
    name: &str,
    secret: Option<&crate::key::secret::KeySecret>,
) {
    let mut add = |value: Option<&[u8]>| match secret {
        Some(secret) => key.credential(name, value, secret),
        None => key.vary(name, value),
    };
    let mut values = parts.headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => add(None),
        (Some(one), None) => add(Some(one.as_bytes())),
        (Some(first), Some(second)) => {
            let mut joined = [first.as_bytes(), second.as_bytes()].join(&b", "[..]);
            for more in values {
                joined.extend_from_slice(b", ");
                joined.extend_from_slice(more.as_bytes());
            }
            add(Some(&joined));
        }
    }
}

/// The handler's first extractor together with the cache context: the
/// macro wraps the first parameter's type in it, so a cached handler has the
/// same number of parameters as the user wrote (and `#[debug_handler]`
/// stacked above `#[cached_route]` still sees the same signature).
/// Extracts the context, then `T`; rejects exactly as `T` does.
pub struct WithContext<C, T> {
    ctx: C,
    inner: T,
}

impl<C, T> WithContext<C, T> {
    /// The cache context and the user's extractor.
    pub fn into_parts(self) -> (C, T) {
        (self.ctx, self.inner)
    }
}

impl<C: fmt::Debug, T> fmt::Debug for WithContext<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithContext")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

impl<C, S, T> FromRequestParts<S> for WithContext<C, T>
where
    C: FromCacheParts,
    S: Send + Sync,
    T: FromRequestParts<S>,
{
    type Rejection = T::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut ctx = C::from_cache_parts(parts);
        ctx.prepare(parts).await;
        let inner = T::from_request_parts(parts, state).await?;
        Ok(Self { ctx, inner })
    }
}

impl<C, S, T> FromRequest<S> for WithContext<C, T>
where
    C: FromCacheParts,
    S: Send + Sync,
    T: FromRequest<S>,
{
    type Rejection = T::Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let mut ctx = C::from_cache_parts(&parts);
        ctx.prepare(&mut parts).await;
        let inner = T::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self { ctx, inner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::QueryPolicy;
    use crate::policy::RoutePolicy;

    struct Listed;
    impl CachedRoute for Listed {
        const POLICY: RoutePolicy = RoutePolicy::new("app::listed", 60)
            .with_namespace("v2")
            .with_query(QueryPolicy::Allow(&["page"]))
            .with_vary(&["accept-language"]);
    }

    struct Plain;
    impl CachedRoute for Plain {
        const POLICY: RoutePolicy = RoutePolicy::new("app::plain", 60);
    }

    /// Keys carry the route's key segment (`viyg7Dsq` for `app::listed`,
    /// `YuHIt7Fr` for `app::plain`), not its id.
    #[test]
    fn key_for_uses_the_routes_namespace_query_rule_and_vary() {
        let cache = RouteCache::embedded();
        assert_eq!(
            cache.key_for::<Listed>("/items?utm=x&page=2").as_deref(),
            Some("rc:v2:viyg7Dsq:GET:/items?page=2#accept-language")
        );
        let request = http::Request::get("/items?page=2")
            .header("accept-language", "fr")
            .body(())
            .unwrap();
        assert_eq!(
            cache.key_for_request::<Listed>(&request).as_deref(),
            Some("rc:v2:viyg7Dsq:GET:/items?page=2#accept-language=fr")
        );
        assert_eq!(
            cache.key_for::<Plain>("/items/1?b=2&a=1").as_deref(),
            Some("rc:YuHIt7Fr:GET:/items/1?a=1&b=2")
        );
    }

    /// A decoded path parameter goes back into one encoded segment:
    /// `/`, `?`, `#`, `%`, spaces and non-ASCII bytes are percent-encoded,
    /// so the formatted path is the one the request carried.
    #[test]
    fn path_segment_encodes_what_a_segment_cannot_hold() {
        for (decoded, encoded) in [
            ("plain-id_1.2~x", "plain-id_1.2~x"),
            ("a/b", "a%2Fb"),
            ("a?b", "a%3Fb"),
            ("a#b", "a%23b"),
            ("100%41", "100%2541"),
            ("a b", "a%20b"),
            ("café", "caf%C3%A9"),
        ] {
            assert_eq!(path_segment(decoded), encoded, "{decoded}");
        }
    }

    /// One credential list: every header that is hashed into keys also
    /// keeps a request off shared entries.
    #[test]
    fn every_credential_header_bypasses_shared_entries() {
        let cache = RouteCache::embedded();
        for name in ["authorization", "proxy-authorization", "cookie"] {
            let request = http::Request::get("/items/1")
                .header(name, "secret")
                .body(())
                .unwrap();
            assert_eq!(
                cache.key_for_request::<Plain>(&request),
                None,
                "a request with {name} must not use a shared entry"
            );
            assert!(crate::key::is_credential(name));
        }
    }
}

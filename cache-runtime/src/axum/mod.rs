//! axum integration: the layer that installs the cache, the hidden request
//! extractor the macro inserts, and the hit/miss flow.

mod body;

use self::body::{buffer, Buffered};
use crate::cache::{Lookup, RouteCache};
use crate::entry::{is_storable_header, Entry};
use crate::fault::now_ms;
use crate::key::KeyBuilder;
use crate::policy::{CachedRoute, KeySource, RoutePolicy};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method};
use std::{
    convert::Infallible,
    fmt,
    future::Future,
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

/// The response header saying how the cache answered: `HIT` or `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const HIT: HeaderValue = HeaderValue::from_static("HIT");
const MISS: HeaderValue = HeaderValue::from_static("MISS");

impl RouteCache {
    /// The layer that makes this cache available to `#[cached_route]`
    /// handlers. Add it to the router after the cached routes, like any
    /// axum layer; the router's state type is unchanged.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use cache_runtime::RouteCache;
    ///
    /// async fn handler() -> &'static str { "hi" }
    ///
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new().route("/", get(handler)).layer(cache.layer());
    /// ```
    pub fn layer(&self) -> axum::Extension<RouteCache> {
        axum::Extension(self.clone())
    }
}

/// What a cached handler needs from the request, computed by the hidden
/// first extractor the macro inserts: the cache handle and, for `GET` and
/// `HEAD`, the route's key so far. Never fails.
pub struct RequestContext<R> {
    state: Context,
    route: PhantomData<fn() -> R>,
}

enum Context {
    /// No `RouteCache` in the request extensions.
    NoLayer,
    /// A method the cache does not serve.
    Bypass,
    Keyed {
        cache: RouteCache,
        key: KeyBuilder,
        /// A `HEAD` is answered from the `GET` entry but never stores one:
        /// its handler may have produced an empty body.
        head: bool,
    },
}

impl<R> fmt::Debug for RequestContext<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            Context::NoLayer => "no layer",
            Context::Bypass => "bypass",
            Context::Keyed { .. } => "keyed",
        };
        f.debug_struct("RequestContext")
            .field("state", &state)
            .finish()
    }
}

impl<R: CachedRoute, S: Send + Sync> FromRequestParts<S> for RequestContext<R> {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            state: context::<R>(parts),
            route: PhantomData,
        })
    }
}

fn context<R: CachedRoute>(parts: &Parts) -> Context {
    let Some(cache) = parts.extensions.get::<RouteCache>() else {
        return Context::NoLayer;
    };
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return Context::Bypass;
    }
    let policy = &R::POLICY;
    let mut key = KeyBuilder::new(
        cache.config().prefix(),
        policy.namespace(),
        policy.route_id(),
        Method::GET.as_str(),
    );
    // Under `Router::nest` the URI has lost its prefix; key on the full one,
    // so `/a/items` and `/b/items` never share an entry.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    let path = uri.path().as_bytes();
    let query = uri.query().map(str::as_bytes);
    match policy.key_source() {
        KeySource::Function => match R::key(parts) {
            Some(value) => key.custom(&value),
            None => key.path_and_query(path, query, policy.query()),
        },
        // The handler's expression is added by `serve_with_key`.
        KeySource::Handler => {}
        _ => key.path_and_query(path, query, policy.query()),
    }
    for name in policy.vary() {
        let mut values = parts.headers.get_all(*name).iter();
        match (values.next(), values.next()) {
            (None, _) => key.vary(name, None),
            (Some(one), None) => key.vary(name, Some(one.as_bytes())),
            (Some(first), Some(second)) => {
                let mut joined = [first.as_bytes(), second.as_bytes()].join(&b", "[..]);
                for more in values {
                    joined.extend_from_slice(b", ");
                    joined.extend_from_slice(more.as_bytes());
                }
                key.vary(name, Some(&joined));
            }
        }
    }
    Context::Keyed {
        cache: cache.clone(),
        key,
        head: parts.method == Method::HEAD,
    }
}

/// The handler's first extractor together with the cache context: the
/// macro wraps the first parameter's type in it, so a cached handler has the
/// same number of parameters as the user wrote (and `#[debug_handler]`
/// stacked above `#[cached_route]` still sees the same signature).
/// Extracts the context, then `T`; rejects exactly as `T` does.
pub struct WithContext<R, T> {
    ctx: RequestContext<R>,
    inner: T,
}

impl<R, T> WithContext<R, T> {
    /// The cache context and the user's extractor.
    pub fn into_parts(self) -> (RequestContext<R>, T) {
        (self.ctx, self.inner)
    }
}

impl<R, T> fmt::Debug for WithContext<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithContext")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

impl<R, S, T> FromRequestParts<S> for WithContext<R, T>
where
    R: CachedRoute,
    S: Send + Sync,
    T: FromRequestParts<S>,
{
    type Rejection = T::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = RequestContext {
            state: context::<R>(parts),
            route: PhantomData,
        };
        let inner = T::from_request_parts(parts, state).await?;
        Ok(Self { ctx, inner })
    }
}

impl<R, S, T> FromRequest<S> for WithContext<R, T>
where
    R: CachedRoute,
    S: Send + Sync,
    T: FromRequest<S>,
{
    type Rejection = T::Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let ctx = RequestContext {
            state: context::<R>(&parts),
            route: PhantomData,
        };
        let inner = T::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self { ctx, inner })
    }
}

static MISSING_LAYER_LOGGED: AtomicBool = AtomicBool::new(false);

/// Runs a cached route: answers from the cache when it can, otherwise runs
/// `handler` and stores its response when it is cacheable. Called by the code
/// `#[cached_route]` generates; `handler` is the user's body, not yet started.
pub async fn serve<R, F>(ctx: RequestContext<R>, handler: F) -> Response
where
    R: CachedRoute,
    F: Future,
    F::Output: IntoResponse,
{
    run::<R, F>(ctx.state, None, handler).await
}

/// [`serve`] for routes whose key is an expression over the handler's
/// bound parameters (`key = format!("item:{id}")`): `key` is its value.
pub async fn serve_with_key<R, F>(ctx: RequestContext<R>, key: String, handler: F) -> Response
where
    R: CachedRoute,
    F: Future,
    F::Output: IntoResponse,
{
    run::<R, F>(ctx.state, Some(key), handler).await
}

async fn run<R, F>(state: Context, custom_key: Option<String>, handler: F) -> Response
where
    R: CachedRoute,
    F: Future,
    F::Output: IntoResponse,
{
    let policy = &R::POLICY;
    let (cache, mut key, head) = match state {
        Context::Keyed { cache, key, head } => (cache, key, head),
        Context::Bypass => return handler.await.into_response(),
        Context::NoLayer => {
            if !MISSING_LAYER_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    route = policy.route_id(),
                    "route cache: no RouteCache layer on this router; add `.layer(cache.layer())` \
                     after the cached routes. Serving uncached."
                );
            }
            return handler.await.into_response();
        }
    };
    if let Some(value) = custom_key {
        key.custom(&value);
    }
    let key = key.finish();
    let faulted = match cache.lookup(&key).await {
        Lookup::Hit(entry) => return hit_response(entry),
        Lookup::Miss => false,
        Lookup::Fault => true,
    };

    let mut response = handler.await.into_response();
    add_vary(response.headers_mut(), policy.vary());
    let mut response = if faulted || head {
        // After a fault, do not pay for a second failing call.
        response
    } else {
        store_if_cacheable(&cache, policy, &key, response).await
    };
    response.headers_mut().insert(X_CACHE, MISS);
    response
}

/// Adds the route's `vary` headers to the response's `Vary`, once each.
fn add_vary(headers: &mut HeaderMap, names: &[&'static str]) {
    for name in names {
        let present = headers.get_all(header::VARY).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|h| h.trim().eq_ignore_ascii_case(name)))
        });
        if !present {
            headers.append(header::VARY, HeaderValue::from_static(name));
        }
    }
}

fn hit_response(entry: Entry) -> Response {
    let age = now_ms().saturating_sub(entry.stored_at_ms) / 1000;
    let mut response = Response::new(Body::from(entry.body));
    *response.status_mut() = entry.status;
    let headers = response.headers_mut();
    headers.reserve(entry.headers.len() + 4);
    if let Some(content_type) = entry.content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    if let Some(etag) = entry.etag {
        headers.insert(header::ETAG, etag);
    }
    for (name, value) in entry.headers {
        headers.append(name, value);
    }
    headers.insert(X_CACHE, HIT);
    headers.insert(header::AGE, HeaderValue::from(age));
    response
}

/// Whether a response may go into a shared cache at all: a 2xx other than
/// `206 Partial Content`, no `Set-Cookie`, no `Cache-Control` that forbids
/// shared storage, and a `Vary` naming only headers the route keys on.
fn cacheable(status: http::StatusCode, headers: &HeaderMap, route_vary: &[&str]) -> bool {
    if !status.is_success()
        || status == http::StatusCode::PARTIAL_CONTENT
        || headers.contains_key(header::SET_COOKIE)
    {
        return false;
    }
    let forbids = headers.get_all(header::CACHE_CONTROL).iter().any(|value| {
        value.to_str().map_or(true, |v| {
            v.split(',').any(|directive| {
                let name = directive.split('=').next().unwrap_or("").trim();
                ["no-store", "private", "no-cache"]
                    .iter()
                    .any(|d| name.eq_ignore_ascii_case(d))
            })
        })
    });
    let unkeyed_vary = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .any(|h| !route_vary.iter().any(|r| r.eq_ignore_ascii_case(h)))
        })
    });
    !forbids && !unkeyed_vary
}

async fn store_if_cacheable(
    cache: &RouteCache,
    policy: &RoutePolicy,
    key: &str,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    if !cacheable(parts.status, &parts.headers, policy.vary()) {
        return Response::from_parts(parts, body);
    }
    let limit = policy.max_body().unwrap_or(cache.config().max_body());
    let bytes = match buffer(body, limit).await {
        Buffered::Complete(bytes) => bytes,
        Buffered::Passthrough(body) => return Response::from_parts(parts, body),
    };

    let mut entry = Entry::new(parts.status, now_ms(), policy.ttl_secs(), bytes.clone());
    entry.content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    entry.etag = parts.headers.get(header::ETAG).cloned();
    entry.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| is_storable_header(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    match entry.encode() {
        Ok(encoded) => {
            let ttl = Duration::from_secs(u64::from(policy.ttl_secs()));
            cache.save(key, Bytes::from(encoded), ttl).await;
        }
        Err(e) => tracing::debug!(key, error = %e, "route cache: response not stored"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn only_plain_successful_responses_are_cacheable() {
        assert!(cacheable(StatusCode::OK, &headers(&[]), &[]));
        assert!(cacheable(
            StatusCode::NO_CONTENT,
            &headers(&[("cache-control", "public, max-age=60")]),
            &[]
        ));
        assert!(!cacheable(StatusCode::NOT_FOUND, &headers(&[]), &[]));
        assert!(!cacheable(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers(&[]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::MOVED_PERMANENTLY,
            &headers(&[]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("set-cookie", "a=b")]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "No-Store")]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "max-age=5, private=\"x\"")]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "no-cache")]),
            &[]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("vary", "accept, *")]),
            &[]
        ));
        assert!(!cacheable(StatusCode::PARTIAL_CONTENT, &headers(&[]), &[]));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("vary", "accept")]),
            &[]
        ));
        assert!(cacheable(
            StatusCode::OK,
            &headers(&[("vary", "Accept")]),
            &["accept"]
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("vary", "accept, cookie")]),
            &["accept"]
        ));
    }
}

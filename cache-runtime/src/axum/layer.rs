//! [`CacheLayer`]: the tower layer that makes a [`RouteCache`] available to
//! the `#[cached_route]` and `#[invalidates]` handlers of a router, and
//! invalidates the targets of unsafe requests (RFC 9111 §4.4).

use super::exchange::full_uri;
use crate::cache::RouteCache;
use futures_util::future::{BoxFuture, Either};
use http::{header, HeaderMap, Method, Request, Response, Uri};
use std::task::{Context, Poll};

/// The layer returned by [`RouteCache::layer`]. It adds the cache to each
/// request's extensions, where the handlers' hidden extractor finds it; the
/// router's state type and the responses are unchanged. Works with
/// `Router::layer`, `Router::route_layer` and tower's `ServiceBuilder`.
///
/// ```
/// use axum::{routing::get, Router};
/// use cache_runtime::{cached_route, RouteCache};
///
/// #[cached_route(ttl = 60)]
/// async fn hello() -> &'static str { "hi" }
///
/// let cache = RouteCache::embedded();
/// let app: Router = Router::new()
///     .route("/", get(hello))
///     .layer(tower::ServiceBuilder::new().layer(cache.layer()));
/// ```
///
/// # Around the whole application
///
/// `Router::layer` wraps every route in the layer: each request then
/// clones one more boxed service and runs one more route future, about
/// 1,000 instructions a request (`bench/profile.sh`), a tenth of a whole
/// embedded hit. Put around the router instead, as axum's own docs put middleware
/// that runs before routing, the layer is one service for the application
/// and behaves the same: hits, misses, the invalidation of unsafe
/// requests' targets and the explain header. Finalise the router with
/// `with_state(())` first, as `axum::serve` does for a bare router on each
/// connection: otherwise axum makes a route of every handler on every
/// request.
///
/// ```no_run
/// use axum::{extract::Request, routing::get, Router, ServiceExt};
/// use cache_runtime::{cached_route, RouteCache};
/// use tower::Layer;
///
/// #[cached_route(ttl = 60)]
/// async fn hello() -> &'static str { "hi" }
///
/// # async fn run() -> std::io::Result<()> {
/// let cache = RouteCache::embedded();
/// let router = Router::new().route("/", get(hello));
/// let app = cache.layer().layer(router.with_state(()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CacheLayer {
    cache: RouteCache,
}

impl CacheLayer {
    /// The layer for `cache`; the same as [`RouteCache::layer`].
    pub(crate) fn new(cache: RouteCache) -> Self {
        Self { cache }
    }
}

impl<S> tower_layer::Layer<S> for CacheLayer {
    type Service = CacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CacheService {
            inner,
            cache: self.cache.clone(),
        }
    }
}

/// The service [`CacheLayer`] wraps around the router's services: it adds
/// the cache to the request's extensions and calls the inner service.
///
/// A non-error answer (2xx or 3xx) to an unsafe method (`POST`, `PUT`,
/// `PATCH`, `DELETE`, any method but `GET`, `HEAD`, `OPTIONS` and `TRACE`)
/// invalidates the entries of the request's target path, and of the
/// same-origin `Location` and `Content-Location` targets (RFC 9111 §4.4),
/// on every instance, whether or not the handler carries `#[invalidates]`.
/// The response waits for it (a client reading after it sees the new
/// data); it runs on a task of its own, so a client that disconnects does
/// not cancel it. On an `#[invalidates]` handler's answer, the paths it
/// invalidated are not invalidated twice, and the others follow its
/// `soft` choice. Turned off with
/// [`RouteCacheBuilder::invalidate_unsafe`](crate::RouteCacheBuilder::invalidate_unsafe).
#[derive(Debug, Clone)]
pub struct CacheService<S> {
    inner: S,
    cache: RouteCache,
}

impl<S, B, ResBody> tower_service::Service<Request<B>> for CacheService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    /// Safe requests get the inner service's future as it is; unsafe ones
    /// one that invalidates after a non-error answer.
    type Future = Either<S::Future, BoxFuture<'static, Result<Response<ResBody>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.cache.clone());
        let explain = self.explain(&mut request);
        if is_safe(request.method()) || !self.cache.config().invalidate_unsafe {
            if !explain {
                return Either::Left(self.inner.call(request));
            }
            let answer = self.inner.call(request);
            let cache = self.cache.clone();
            return Either::Right(Box::pin(async move {
                let mut response = answer.await?;
                explained(&cache, &mut response);
                Ok(response)
            }));
        }
        let target = Target::of(&request);
        let answer = self.inner.call(request);
        let cache = self.cache.clone();
        Either::Right(Box::pin(async move {
            let mut response = answer.await?;
            if explain {
                explained(&cache, &mut response);
            }
            let status = response.status();
            if status.is_success() || status.is_redirection() {
                let mut paths = target.paths(response.headers());
                let mut soft = false;
                if let Some(done) = response.extensions().get::<InvalidationRecord>() {
                    paths.retain(|path| !done.paths.contains(path));
                    soft = done.soft;
                }
                // Detached: a client that disconnects does not cancel it.
                let done = tokio::spawn(async move {
                    for path in &paths {
                        // Failures are logged and counted by the cache.
                        let _ = if soft {
                            cache.soft().invalidate(path).await
                        } else {
                            cache.invalidate(path).await
                        };
                    }
                });
                let _ = done.await;
            }
            Ok(response)
        }))
    }
}

impl<S> CacheService<S> {
    /// Whether `request` asks for an explanation with the right token
    /// (`explain_header`); the header is taken out of the request either
    /// way, so that neither the handler nor the key sees it.
    fn explain<B>(&self, request: &mut Request<B>) -> bool {
        let Some(explain) = &self.cache.config().explain else {
            return false;
        };
        // Most requests do not carry it: comparing the few names a request
        // has costs less than hashing the custom name to look it up.
        if !request.headers().keys().any(|name| *name == explain.name) {
            return false;
        }
        let Some(value) = request.headers_mut().remove(&explain.name) else {
            return false;
        };
        let accepted = explain.token.matches(value.as_bytes());
        if accepted {
            request.extensions_mut().insert(ExplainRequested);
        }
        accepted
    }
}

/// In a request's extensions: the layer accepted its explain header.
#[derive(Clone, Copy)]
pub(super) struct ExplainRequested;

/// In a response's extensions, on an explained request: the key's short
/// hash (never the key).
#[derive(Clone)]
pub(super) struct ExplainedKey(pub(super) String);

/// Adds the explain header to `response`, from its `x-cache` and
/// `Cache-Status` and the key hash the flow left in its extensions.
fn explained<B>(cache: &RouteCache, response: &mut Response<B>) {
    let Some(explain) = &cache.config().explain else {
        return;
    };
    let key = response
        .extensions_mut()
        .remove::<ExplainedKey>()
        .map_or_else(|| "-".to_owned(), |k| k.0);
    let (x_cache, params) = crate::http::headers::answered(response.headers());
    let value = explanation(&key, x_cache, &params, &cache.backend().to_string());
    if let Ok(value) = http::HeaderValue::from_str(&value) {
        response.headers_mut().insert(explain.name.clone(), value);
    }
}

/// `key=…; decision=…; reason=…[; ttl=…]; backend=…`, from a response's
/// `x-cache` and its `Cache-Status` (RFC 9211) parameters.
fn explanation(key: &str, x_cache: &str, params: &[&str], backend: &str) -> String {
    let param = |name: &str| {
        params
            .iter()
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let has = |flag: &str| params.contains(&flag);
    let ttl = param("ttl");
    let (decision, reason) = if param("fwd") == Some("bypass") {
        ("BYPASS", param("detail").unwrap_or("bypass"))
    } else if has("hit") {
        if ttl.is_some_and(|t| t.starts_with('-')) {
            ("STALE", "stale-while-revalidate")
        } else if has("collapsed") {
            ("HIT", "collapsed")
        } else {
            ("HIT", "fresh")
        }
    } else if param("fwd") == Some("stale") {
        ("REVALIDATED", "not-modified")
    } else {
        let reason = match (param("detail"), param("fwd")) {
            (Some(detail), _) => detail,
            (None, Some("request")) => "client-request",
            (None, _) if has("stored") => "stored",
            (None, _) => "not-stored",
        };
        (if x_cache.is_empty() { "MISS" } else { x_cache }, reason)
    };
    let mut value = format!("key={key}; decision={decision}; reason={reason}");
    if let Some(ttl) = ttl {
        value.push_str("; ttl=");
        value.push_str(ttl);
    }
    value.push_str("; backend=");
    value.push_str(backend);
    value
}

/// What an `#[invalidates]` handler invalidated, in its response's
/// extensions: the layer does not invalidate (or purge at the edge) its
/// paths twice, and invalidates the rest of its targets the same way, hard
/// or soft.
#[derive(Clone)]
pub(super) struct InvalidationRecord {
    pub(super) paths: Vec<String>,
    pub(super) soft: bool,
}

/// Safe methods (RFC 9110 §9.2.1): the only ones that do not invalidate.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// What an unsafe request's answer invalidates: its target, and the
/// same-origin targets its answer names.
struct Target {
    path_and_query: String,
    /// The request's authority (its target's, else `Host`), to tell a
    /// same-origin `Location` from another site's.
    authority: Option<String>,
}

impl Target {
    fn of<B>(request: &Request<B>) -> Self {
        let uri = full_uri(request.extensions(), request.uri());
        let authority = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
        Self {
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            authority,
        }
    }

    /// The paths to invalidate: the target (and its bare path when it has
    /// a query, which routes keyed on no query are indexed by), then the
    /// `Location` and `Content-Location` of the answer on this origin.
    fn paths(self, headers: &HeaderMap) -> Vec<String> {
        let mut paths = vec![self.path_and_query.clone()];
        if let Some((path, _)) = self.path_and_query.split_once('?') {
            paths.push(path.to_owned());
        }
        for name in [header::LOCATION, header::CONTENT_LOCATION] {
            let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            if let Some(path) = self.same_origin(value) {
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        paths
    }

    /// `reference`'s path and query when it names this origin: a
    /// path-absolute reference, or an absolute URI with this authority.
    fn same_origin(&self, reference: &str) -> Option<String> {
        let uri: Uri = reference.parse().ok()?;
        if let Some(authority) = uri.authority() {
            let ours = self.authority.as_deref()?;
            if !authority.as_str().eq_ignore_ascii_case(ours) {
                return None;
            }
        } else if !reference.starts_with('/') || reference.starts_with("//") {
            // Relative to the target's directory: rare, and not resolved.
            return None;
        }
        Some(uri.path_and_query()?.as_str().to_owned())
    }
}

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
    pub fn layer(&self) -> CacheLayer {
        CacheLayer::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_answers_name_their_target_and_same_origin_locations() {
        let request = Request::post("/items?sort=new")
            .header("host", "shop.example")
            .body(())
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LOCATION,
            "https://shop.example/items/8".parse().unwrap(),
        );
        headers.insert(header::CONTENT_LOCATION, "/items/8?v=1".parse().unwrap());
        assert_eq!(
            Target::of(&request).paths(&headers),
            ["/items?sort=new", "/items", "/items/8", "/items/8?v=1"]
        );
        let mut elsewhere = HeaderMap::new();
        elsewhere.insert(
            header::LOCATION,
            "https://other.example/items/8".parse().unwrap(),
        );
        elsewhere.insert(
            header::CONTENT_LOCATION,
            "//other.example/x".parse().unwrap(),
        );
        let request = Request::delete("/items/7")
            .header("host", "shop.example")
            .body(())
            .unwrap();
        assert_eq!(Target::of(&request).paths(&elsewhere), ["/items/7"]);
        assert!(is_safe(&Method::GET) && is_safe(&Method::OPTIONS));
        assert!(!is_safe(&Method::PATCH) && !is_safe(&Method::from_bytes(b"PURGE").unwrap()));
    }
}

//! [`CacheLayer`]: the tower layer that makes a [`RouteCache`] available to
//! the `#[cached_route]` and `#[invalidates]` handlers of a router.

use crate::cache::RouteCache;
use http::Request;
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
#[derive(Debug, Clone)]
pub struct CacheLayer {
    cache: RouteCache,
}

impl CacheLayer {
    /// The layer for `cache`; the same as [`RouteCache::layer`].
    pub fn new(cache: RouteCache) -> Self {
        Self { cache }
    }

    /// The cache this layer installs.
    pub fn cache(&self) -> &RouteCache {
        &self.cache
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
#[derive(Debug, Clone)]
pub struct CacheService<S> {
    inner: S,
    cache: RouteCache,
}

impl<S, B> tower_service::Service<Request<B>> for CacheService<S>
where
    S: tower_service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.cache.clone());
        self.inner.call(request)
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

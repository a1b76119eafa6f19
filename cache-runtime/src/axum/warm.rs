//! Warm-up: [`RouteCache::warm`] fills entries by sending `GET`s through
//! the application's own router, as clients would, so every rule (keys,
//! storability, leases across instances) applies unchanged.

use crate::cache::RouteCache;
use crate::http::headers::answered;
use axum::body::Body;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use std::future::poll_fn;
use tower_service::Service;

/// What became of one URL in [`RouteCache::warm`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmOutcome {
    /// The URL as given.
    pub url: String,
    /// The response's status (`400` for a URL that is none, `500` when the
    /// router failed).
    pub status: StatusCode,
    /// Its `x-cache` (`MISS`: computed now; `HIT`: already stored, here or
    /// by another instance), empty when the cache did not answer (a route
    /// that is not cached, a bypass).
    pub x_cache: String,
    /// Whether an entry is stored for it now (this request's or one it
    /// found).
    pub stored: bool,
}

impl RouteCache {
    /// Fills the entries of `urls` by sending a `GET` for each through
    /// `router` (the application's own, with this cache's layer or served
    /// inside it: the requests carry this cache either way), at most
    /// `concurrency` at a time (at least one), before the listener opens
    /// or after a deploy: pick what the origin's handlers can take beside
    /// live traffic. Each request
    /// takes the usual path: an entry already stored is a hit and costs
    /// the handler nothing, and the lease keeps instances that warm the
    /// same URLs at once from computing any of them twice. Returns one
    /// [`WarmOutcome`] per URL, in the order given.
    ///
    /// A URL is a path and query (`/items/1?lang=en`), or an absolute URL
    /// (`https://shop.example/items/1`) whose authority becomes the
    /// request's `Host`, for routes keyed on it.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use cache_runtime::{cached_route, RouteCache};
    ///
    /// #[cached_route(ttl = 600)]
    /// async fn item(axum::extract::Path(id): axum::extract::Path<u64>) -> String {
    ///     format!("item {id}")
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new().route("/items/{id}", get(item)).layer(cache.layer());
    /// let urls: Vec<String> = (1..=3).map(|id| format!("/items/{id}")).collect();
    /// let warmed = cache.warm(&app, &urls, 8).await;
    /// assert!(warmed.iter().all(|w| w.stored && w.x_cache == "MISS"));
    /// // Now every one of them is a hit.
    /// # });
    /// ```
    pub async fn warm<I>(&self, router: &Router, urls: I, concurrency: usize) -> Vec<WarmOutcome>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let urls: Vec<String> = urls.into_iter().map(|u| u.as_ref().to_owned()).collect();
        let warmed: Vec<WarmOutcome> = stream::iter(urls)
            .map(|url| warm_one(router.clone(), self.clone(), url))
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let stored = warmed.iter().filter(|w| w.stored).count();
        tracing::info!(urls = warmed.len(), stored, "route cache: warmed");
        warmed
    }
}

async fn warm_one(mut router: Router, cache: RouteCache, url: String) -> WarmOutcome {
    let outcome = |status, x_cache: &str, stored| WarmOutcome {
        url: url.clone(),
        status,
        x_cache: x_cache.to_owned(),
        stored,
    };
    let Ok(uri) = url.parse::<Uri>() else {
        return outcome(StatusCode::BAD_REQUEST, "", false);
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    if let Some(authority) = uri.authority() {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            request.headers_mut().insert(header::HOST, host);
        }
    }
    let target = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .parse::<Uri>()
        .unwrap_or_default();
    *request.uri_mut() = target;
    // As the layer would: the router may be served inside it rather than
    // carry it (`cache.layer().layer(router)`).
    request.extensions_mut().insert(cache);
    if poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut router, cx))
        .await
        .is_err()
    {
        return outcome(StatusCode::INTERNAL_SERVER_ERROR, "", false);
    }
    let Ok(response) = router.call(request).await;
    let (parts, body) = response.into_parts();
    // Read to its end: a streamed body is stored once it has ended.
    let _ = body.collect().await;
    let (x_cache, params) = answered(&parts.headers);
    let stored = matches!(x_cache, "HIT" | "STALE") || params.contains(&"stored");
    outcome(parts.status, x_cache, stored)
}

//! axum integration: the layer that installs the cache, the hidden request
//! extractor the macro inserts, and the hit/miss flow.

mod body;

use self::body::{buffer, Buffered};
use crate::cache::{Lookup, RouteCache};
use crate::entry::Entry;
use crate::fault::now_ms;
use crate::key::request_key;
use crate::policy::RoutePolicy;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::{
    convert::Infallible,
    future::Future,
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

/// What a cached handler needs from the request. Inserted by the macro as
/// the handler's first extractor; never fails.
#[derive(Debug)]
pub struct RequestContext {
    cache: Option<RouteCache>,
    method: Method,
    uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            cache: parts.extensions.get::<RouteCache>().cloned(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

static MISSING_LAYER_LOGGED: AtomicBool = AtomicBool::new(false);

/// Runs a cached route: answers from the cache when it can, otherwise runs
/// `handler` and stores its response when it is cacheable. Called by the code
/// `#[cached_route]` generates; `handler` is the user's body, not yet started.
pub async fn serve<F>(ctx: RequestContext, policy: &'static RoutePolicy, handler: F) -> Response
where
    F: Future,
    F::Output: IntoResponse,
{
    let Some(cache) = ctx.cache else {
        if !MISSING_LAYER_LOGGED.swap(true, Ordering::Relaxed) {
            tracing::error!(
                route = policy.route_id(),
                "route cache: no RouteCache layer on this router; add `.layer(cache.layer())` \
                 after the cached routes. Serving uncached."
            );
        }
        return handler.await.into_response();
    };
    if ctx.method != Method::GET && ctx.method != Method::HEAD {
        return handler.await.into_response();
    }

    let key = request_key(
        cache.config().prefix(),
        policy.route_id(),
        Method::GET.as_str(),
        ctx.uri.path().as_bytes(),
        ctx.uri.query().map(str::as_bytes),
    );
    let faulted = match cache.lookup(&key).await {
        Lookup::Hit(entry) => return hit_response(entry),
        Lookup::Miss => false,
        Lookup::Fault => true,
    };

    let response = handler.await.into_response();
    let mut response = if faulted {
        // The backend just failed; do not pay for a second failing call.
        response
    } else {
        store_if_cacheable(&cache, policy, &key, response).await
    };
    response.headers_mut().insert(X_CACHE, MISS);
    response
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

/// Whether a response may go into a shared cache at all.
fn cacheable(status: http::StatusCode, headers: &HeaderMap) -> bool {
    if !status.is_success() || headers.contains_key(header::SET_COOKIE) {
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
    let varies_on_everything = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .map_or(true, |v| v.split(',').any(|h| h.trim() == "*"))
    });
    !forbids && !varies_on_everything
}

/// Headers that describe the connection or this particular answer rather
/// than the resource, and so are not stored with the entry.
fn is_stored_header(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "content-type"
            | "etag"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "upgrade"
            | "te"
            | "trailer"
            | "date"
            | "age"
            | "x-cache"
            | "cache-status"
    )
}

async fn store_if_cacheable(
    cache: &RouteCache,
    policy: &RoutePolicy,
    key: &str,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    if !cacheable(parts.status, &parts.headers) {
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
        .filter(|(name, _)| is_stored_header(name))
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
        assert!(cacheable(StatusCode::OK, &headers(&[])));
        assert!(cacheable(
            StatusCode::NO_CONTENT,
            &headers(&[("cache-control", "public, max-age=60")])
        ));
        assert!(!cacheable(StatusCode::NOT_FOUND, &headers(&[])));
        assert!(!cacheable(StatusCode::INTERNAL_SERVER_ERROR, &headers(&[])));
        assert!(!cacheable(StatusCode::MOVED_PERMANENTLY, &headers(&[])));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("set-cookie", "a=b")])
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "No-Store")])
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "max-age=5, private=\"x\"")])
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("cache-control", "no-cache")])
        ));
        assert!(!cacheable(
            StatusCode::OK,
            &headers(&[("vary", "accept, *")])
        ));
    }
}

//! The hit/miss flow of one cached request.

use super::body::{buffer, Buffered};
use super::{ClientDirective, Context, Keyed, RequestContext};
use crate::cache::{Lookup, RouteCache};
use crate::entry::{is_storable_header, Entry};
use crate::fault::now_ms;
use crate::policy::{AuthPolicy, CachedRoute, RoutePolicy};
use crate::semantics::{cache_status, etag_for, if_none_match, CacheControl, Outcome};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, response::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::{
    future::Future,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

/// The response header saying how the cache answered: `HIT` or `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const HIT: HeaderValue = HeaderValue::from_static("HIT");
const MISS: HeaderValue = HeaderValue::from_static("MISS");

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
    run::<R, F>(ctx.into_state(), None, handler).await
}

/// [`serve`] for routes whose key is an expression over the handler's
/// bound parameters (`key = format!("item:{id}")`): `key` is its value.
pub async fn serve_with_key<R, F>(ctx: RequestContext<R>, key: String, handler: F) -> Response
where
    R: CachedRoute,
    F: Future,
    F::Output: IntoResponse,
{
    run::<R, F>(ctx.into_state(), Some(key), handler).await
}

async fn run<R, F>(state: Context, custom_key: Option<String>, handler: F) -> Response
where
    R: CachedRoute,
    F: Future,
    F::Output: IntoResponse,
{
    let policy = &R::POLICY;
    let keyed = match state {
        Context::Keyed(keyed) => keyed,
        Context::Bypass(status) => {
            let mut response = handler.await.into_response();
            response.headers_mut().insert(CACHE_STATUS, status);
            return response;
        }
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
    let Keyed {
        cache,
        mut key,
        head,
        if_none_match: conditional,
        client,
    } = *keyed;
    if let Some(value) = custom_key {
        key.custom(&value);
    }
    let key = key.finish();

    let lookup = if client == ClientDirective::None {
        cache.lookup(&key).await
    } else {
        Lookup::Miss
    };
    let faulted = match lookup {
        Lookup::Hit(entry) => return hit(&cache, policy, entry, conditional.as_ref()),
        Lookup::Miss => false,
        Lookup::Fault => true,
    };

    let mut response = handler.await.into_response();
    add_vary(response.headers_mut(), policy.vary());
    let (mut response, outcome, etag) = if faulted {
        // After a fault, do not pay for a second failing call.
        (response, Outcome::BackendError, None)
    } else if head {
        (
            response,
            Outcome::UriMiss {
                stored: false,
                detail: Some("head"),
            },
            None,
        )
    } else if client == ClientDirective::NoStore {
        (response, Outcome::Request { stored: false }, None)
    } else {
        let stored = store_if_cacheable(&cache, policy, &key, response).await;
        let outcome = if client == ClientDirective::Refresh {
            Outcome::Request {
                stored: stored.stored,
            }
        } else {
            Outcome::UriMiss {
                stored: stored.stored,
                detail: stored.detail,
            }
        };
        (stored.response, outcome, stored.etag)
    };
    let headers = response.headers_mut();
    headers.insert(X_CACHE, MISS);
    headers.insert(
        CACHE_STATUS,
        cache_status(cache.config().status_name(), outcome),
    );
    match (&conditional, &etag) {
        (Some(field), Some(etag)) if if_none_match(field, etag) => not_modified(response.headers()),
        _ => response,
    }
}

/// The `Cache-Control` the cache sends with a cacheable response that did
/// not set its own: the route's, or `public` (`private` on per-user routes)
/// with the remaining lifetime.
fn generated_cache_control(policy: &RoutePolicy, remaining: u64) -> HeaderValue {
    if let Some(value) = policy.cache_control() {
        return HeaderValue::from_static(value);
    }
    let scope = if policy.auth() == AuthPolicy::Private {
        "private"
    } else {
        "public"
    };
    HeaderValue::try_from(format!("{scope}, max-age={remaining}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
}

fn hit(
    cache: &RouteCache,
    policy: &RoutePolicy,
    entry: Entry,
    if_none: Option<&HeaderValue>,
) -> Response {
    let age = now_ms().saturating_sub(entry.stored_at_ms) / 1000;
    let remaining = u64::from(entry.ttl_secs).saturating_sub(age);
    let mut response = Response::new(Body::from(entry.body));
    *response.status_mut() = entry.status;
    let headers = response.headers_mut();
    headers.reserve(entry.headers.len() + 6);
    if let Some(content_type) = entry.content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    let etag = entry.etag;
    if let Some(etag) = &etag {
        headers.insert(header::ETAG, etag.clone());
    }
    for (name, value) in entry.headers {
        headers.append(name, value);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            generated_cache_control(policy, remaining),
        );
    }
    headers.insert(X_CACHE, HIT);
    headers.insert(header::AGE, HeaderValue::from(age));
    headers.insert(
        CACHE_STATUS,
        cache_status(
            cache.config().status_name(),
            Outcome::Hit { ttl: remaining },
        ),
    );
    match (if_none, &etag) {
        (Some(field), Some(etag)) if if_none_match(field, etag) => not_modified(response.headers()),
        _ => response,
    }
}

/// A `304 Not Modified` carrying the fields RFC 9110 §15.4.5 asks for from
/// the `200` it stands for, and the cache's own.
fn not_modified(full: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    for name in [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::ETAG,
        header::EXPIRES,
        header::VARY,
        header::AGE,
        X_CACHE,
        CACHE_STATUS,
    ] {
        for value in full.get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }
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

/// Why a response may not go into the cache, if it may not: a status other
/// than 2xx (or `206`), `Set-Cookie`, a `Cache-Control` that forbids
/// storing (`private` is expected on per-user routes), or a `Vary` naming a
/// header the route does not key on.
fn refusal(parts: &Parts, policy: &RoutePolicy) -> Option<&'static str> {
    if !parts.status.is_success() || parts.status == StatusCode::PARTIAL_CONTENT {
        return Some("status");
    }
    if parts.headers.contains_key(header::SET_COOKIE) {
        return Some("set-cookie");
    }
    let cc = CacheControl::parse(&parts.headers);
    if cc.no_store || cc.no_cache || (cc.private && policy.auth() != AuthPolicy::Private) {
        return Some("cache-control");
    }
    let keyed = |h: &str| {
        policy.vary().iter().any(|r| r.eq_ignore_ascii_case(h))
            || (policy.auth() == AuthPolicy::Private
                && (h.eq_ignore_ascii_case("authorization") || h.eq_ignore_ascii_case("cookie")))
    };
    let unkeyed_vary = parts.headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .any(|h| !keyed(h))
        })
    });
    unkeyed_vary.then_some("vary")
}

/// A miss's response after the store decision.
struct Stored {
    response: Response,
    stored: bool,
    detail: Option<&'static str>,
    etag: Option<HeaderValue>,
}

async fn store_if_cacheable(
    cache: &RouteCache,
    policy: &RoutePolicy,
    key: &str,
    response: Response,
) -> Stored {
    let (mut parts, body) = response.into_parts();
    let refused = |parts, body, detail| Stored {
        response: Response::from_parts(parts, body),
        stored: false,
        detail: Some(detail),
        etag: None,
    };
    if let Some(detail) = refusal(&parts, policy) {
        return refused(parts, body, detail);
    }
    let mut ttl = u64::from(policy.ttl_secs());
    if cache.config().cap_ttl_to_handler_max_age() {
        if let Some(max_age) = CacheControl::parse(&parts.headers).shared_max_age() {
            ttl = ttl.min(max_age);
        }
    }
    if ttl == 0 {
        return refused(parts, body, "max-age");
    }
    let limit = policy.max_body().unwrap_or(cache.config().max_body());
    let bytes = match buffer(body, limit).await {
        Buffered::Complete(bytes) => bytes,
        Buffered::Passthrough(body) => return refused(parts, body, "size"),
    };

    let etag = parts
        .headers
        .get(header::ETAG)
        .cloned()
        .unwrap_or_else(|| etag_for(&bytes));
    let ttl_secs = u32::try_from(ttl).unwrap_or(u32::MAX);
    let mut entry = Entry::new(parts.status, now_ms(), ttl_secs, bytes.clone());
    entry.content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    entry.etag = Some(etag.clone());
    entry.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| is_storable_header(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let stored = match entry.encode() {
        Ok(encoded) => {
            cache
                .save(key, Bytes::from(encoded), Duration::from_secs(ttl))
                .await
        }
        Err(e) => {
            tracing::debug!(key, error = %e, "route cache: response not stored");
            false
        }
    };
    if !stored {
        return Stored {
            response: Response::from_parts(parts, Body::from(bytes)),
            stored: false,
            detail: Some("store-failed"),
            etag: None,
        };
    }
    parts.headers.insert(header::ETAG, etag.clone());
    if !parts.headers.contains_key(header::CACHE_CONTROL) {
        parts
            .headers
            .insert(header::CACHE_CONTROL, generated_cache_control(policy, ttl));
    }
    Stored {
        response: Response::from_parts(parts, Body::from(bytes)),
        stored: true,
        detail: None,
        etag: Some(etag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(status: StatusCode, pairs: &[(&'static str, &'static str)]) -> Parts {
        let mut response = Response::new(());
        *response.status_mut() = status;
        for (n, v) in pairs {
            response
                .headers_mut()
                .append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        response.into_parts().0
    }

    const PLAIN: RoutePolicy = RoutePolicy::new("t::plain", 60);
    const ACCEPT: RoutePolicy = RoutePolicy::new("t::accept", 60).with_vary(&["accept"]);
    const PRIVATE: RoutePolicy = RoutePolicy::new("t::private", 60).with_auth(AuthPolicy::Private);

    #[test]
    fn only_plain_successful_responses_are_cacheable() {
        let ok = |status, pairs: &[(&'static str, &'static str)], policy: &RoutePolicy| {
            refusal(&parts(status, pairs), policy).is_none()
        };
        assert!(ok(StatusCode::OK, &[], &PLAIN));
        assert!(ok(
            StatusCode::NO_CONTENT,
            &[("cache-control", "public, max-age=60")],
            &PLAIN
        ));
        assert!(!ok(StatusCode::NOT_FOUND, &[], &PLAIN));
        assert!(!ok(StatusCode::INTERNAL_SERVER_ERROR, &[], &PLAIN));
        assert!(!ok(StatusCode::MOVED_PERMANENTLY, &[], &PLAIN));
        assert!(!ok(StatusCode::PARTIAL_CONTENT, &[], &PLAIN));
        assert!(!ok(StatusCode::OK, &[("set-cookie", "a=b")], &PLAIN));
        assert!(!ok(
            StatusCode::OK,
            &[("cache-control", "No-Store")],
            &PLAIN
        ));
        assert!(!ok(
            StatusCode::OK,
            &[("cache-control", "max-age=5, private=\"x\"")],
            &PLAIN
        ));
        assert!(!ok(
            StatusCode::OK,
            &[("cache-control", "no-cache")],
            &PLAIN
        ));
        assert!(!ok(StatusCode::OK, &[("vary", "accept, *")], &PLAIN));
        assert!(!ok(StatusCode::OK, &[("vary", "accept")], &PLAIN));
        assert!(ok(StatusCode::OK, &[("vary", "Accept")], &ACCEPT));
        assert!(!ok(StatusCode::OK, &[("vary", "accept, cookie")], &ACCEPT));
        // A per-user route expects `private` and keys on the credentials.
        assert!(ok(
            StatusCode::OK,
            &[("cache-control", "private"), ("vary", "authorization")],
            &PRIVATE
        ));
    }

    #[test]
    fn generated_cache_control_reflects_route_and_remaining_life() {
        assert_eq!(generated_cache_control(&PLAIN, 42), "public, max-age=42");
        assert_eq!(generated_cache_control(&PRIVATE, 7), "private, max-age=7");
        const OWN: RoutePolicy =
            RoutePolicy::new("t::own", 60).with_cache_control("public, s-maxage=60");
        assert_eq!(generated_cache_control(&OWN, 1), "public, s-maxage=60");
    }
}

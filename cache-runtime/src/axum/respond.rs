//! Responses: a hit's headers, the cache's own headers on every answer,
//! `304 Not Modified`, the generated `Cache-Control` and `Vary`.

/// The response header saying how the cache answered: `HIT`, `STALE` or
/// `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub(super) const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const HIT: HeaderValue = HeaderValue::from_static("HIT");
const STALE: HeaderValue = HeaderValue::from_static("STALE");
pub(super) const MISS: HeaderValue = HeaderValue::from_static("MISS");

use super::conditional::{not_modified, Conditions};
use super::flow::Route;
use super::storable::Stored;
use crate::entry::{Entry, Prepared};
use crate::fault::now_ms;
use crate::freshness::format_date;
use crate::policy::{AuthPolicy, RoutePolicy};
use crate::semantics::{cache_status, header_value, push_decimal, Outcome};
use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};

/// How a stored entry is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    Fresh,
    /// Past its TTL, inside the stale window, while a refresh runs.
    Stale,
    /// Computed by another request this one waited for.
    Collapsed,
    /// Confirmed by the handler with a `304` and refreshed; `true` when the
    /// refreshed entry was stored.
    Revalidated(bool),
}

impl Route {
    pub(super) fn respond_stored(&self, stored: Stored, conditional: &Conditions) -> Response {
        let outcome = Outcome::UriMiss {
            stored: stored.stored,
            detail: stored.detail,
        };
        self.respond(stored.response, outcome, stored.etag, conditional)
    }

    /// A miss's response with the cache's headers, or a `304` when the
    /// stored entry's tag matches the request's `If-None-Match`.
    pub(super) fn respond(
        &self,
        mut response: Response,
        outcome: Outcome,
        etag: Option<HeaderValue>,
        conditional: &Conditions,
    ) -> Response {
        self.mark(response.headers_mut(), MISS, outcome);
        or_not_modified(response, etag.as_ref(), conditional)
    }

    pub(super) fn hit(
        &self,
        entry: &Prepared,
        conditional: &Conditions,
        served: Served,
    ) -> Response {
        let age = now_ms().saturating_sub(entry.entry().stored_at_ms) / 1000;
        let headers = if served == Served::Fresh {
            entry.fresh_head(age, self.policy.route_id(), || {
                self.hit_head(entry.entry(), age, served)
            })
        } else {
            self.hit_head(entry.entry(), age, served)
        };
        let entry = entry.entry();
        let mut response = Response::new(Body::from(entry.body.clone()));
        *response.status_mut() = entry.status;
        *response.headers_mut() = headers;
        conditional.answer(response, &entry.body)
    }

    /// The headers of a hit on `entry`, `age` seconds old: the stored ones,
    /// the cache's own, and `Content-Length` (which axum would otherwise
    /// work out on every hit).
    fn hit_head(&self, entry: &Entry, age: u64, served: Served) -> HeaderMap {
        let ttl = u64::from(entry.ttl_secs);
        let remaining = ttl.saturating_sub(age);
        let mut headers = HeaderMap::with_capacity(entry.headers.len() + 8);
        if let Some(content_type) = &entry.content_type {
            headers.insert(header::CONTENT_TYPE, content_type.clone());
        }
        if let Some(etag) = &entry.etag {
            headers.insert(header::ETAG, etag.clone());
        }
        for (name, value) in &entry.headers {
            headers.append(name, value.clone());
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(
                header::CACHE_CONTROL,
                generated_cache_control(self.policy, remaining),
            );
        }
        let (x_cache, outcome) = match served {
            Served::Fresh => (HIT, Outcome::Hit { ttl: remaining }),
            Served::Collapsed => (HIT, Outcome::Collapsed { ttl: remaining }),
            Served::Revalidated(stored) => (
                HIT,
                Outcome::Revalidated {
                    ttl: remaining,
                    stored,
                },
            ),
            Served::Stale => (
                STALE,
                Outcome::Stale {
                    over: age.saturating_sub(ttl),
                },
            ),
        };
        headers.insert(header::AGE, HeaderValue::from(age));
        // The date of the stored response, consistent with `Age` (RFC 9110
        // §6.6.1, RFC 9111 §4.2.3): `Date` + `Age` is now.
        headers.insert(header::DATE, format_date(entry.stored_at_ms));
        if entry.status == StatusCode::OK {
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        self.mark(&mut headers, x_cache, outcome);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        headers
    }

    /// The cache's own headers: how it answered, and why.
    pub(super) fn mark(&self, headers: &mut HeaderMap, x_cache: HeaderValue, outcome: Outcome) {
        headers.insert(X_CACHE, x_cache);
        headers.insert(
            CACHE_STATUS,
            cache_status(self.cache.config().status_name(), outcome),
        );
    }
}

/// `response`, or a `304` standing for it when it was stored (it has the
/// entity tag `etag`) and the request's preconditions say it is not
/// modified.
pub(super) fn or_not_modified(
    response: Response,
    etag: Option<&HeaderValue>,
    conditional: &Conditions,
) -> Response {
    if etag.is_some() && conditional.not_modified(response.status(), response.headers()) {
        return not_modified(response.headers());
    }
    response
}

/// The `Cache-Control` the cache sends with a cacheable response that did
/// not set its own: the route's, or `public` (`private` on per-user routes)
/// with the remaining lifetime.
pub(super) fn generated_cache_control(policy: &RoutePolicy, remaining: u64) -> HeaderValue {
    if let Some(value) = policy.cache_control() {
        return HeaderValue::from_static(value);
    }
    let mut value = String::with_capacity(32);
    value.push_str(if policy.auth() == AuthPolicy::Private {
        "private, max-age="
    } else {
        "public, max-age="
    });
    push_decimal(&mut value, remaining);
    header_value(value)
}

/// Adds the route's `vary` headers to the response's `Vary`, once each.
pub(super) fn add_vary(headers: &mut HeaderMap, names: &[&'static str]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::AuthPolicy;

    const PLAIN: RoutePolicy = RoutePolicy::new("t::plain", 60);
    const PRIVATE: RoutePolicy = RoutePolicy::new("t::private", 60).with_auth(AuthPolicy::Private);

    #[test]
    fn generated_cache_control_reflects_route_and_remaining_life() {
        assert_eq!(generated_cache_control(&PLAIN, 42), "public, max-age=42");
        assert_eq!(generated_cache_control(&PRIVATE, 7), "private, max-age=7");
        const OWN: RoutePolicy =
            RoutePolicy::new("t::own", 60).with_cache_control("public, s-maxage=60");
        assert_eq!(generated_cache_control(&OWN, 1), "public, s-maxage=60");
    }
}

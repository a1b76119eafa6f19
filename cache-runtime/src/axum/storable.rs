//! The storability decision and the store: which responses may be kept
//! (`refusal`), for how long, and `store_if_cacheable`.

use super::body::{buffer, BodyRead};
use super::exchange::Exchange;
use super::tee::Tee;
use crate::clock::now_ms;
use crate::config::CacheConfig;
use crate::entry::{is_default_storable_status, is_storable_header, is_storable_status, Entry};
use crate::fill::generation::Generations;
use crate::fill::lookup::SaveStatus;
use crate::http::encoding::{compressible, Encoding};
use crate::http::freshness;
use crate::http::headers::{add_vary, set_cache_control};
use crate::http::semantics::{etag_for, CacheControl};
use crate::observe::{NotStored, Refusal};
use crate::policy::{AuthPolicy, RoutePolicy};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, response::Parts, HeaderValue, StatusCode};
use std::time::Duration;

/// Why a response may not go into the cache, if it may not: a status other
/// than 200, 203 and 204 (unless the route's negative caching lists it;
/// never 5xx, `206` or `304`), `Set-Cookie`, a `Cache-Control` that
/// forbids storing (`private` is expected on per-user routes), or a `Vary`
/// naming a header the route does not key on.
fn refusal(
    parts: &Parts,
    policy: &RoutePolicy,
    config: &CacheConfig,
    cc: &CacheControl,
) -> Option<Refusal> {
    let negative = is_negative(parts.status, policy);
    if !is_default_storable_status(parts.status) && !negative {
        return Some(Refusal::Status);
    }
    header_refusal(&parts.headers, policy, config, cc)
}

/// Why a response with `headers` (and their governing `cc`) may not be
/// stored, whatever its status: `Set-Cookie`, a `Cache-Control` that
/// forbids storing (`private` is expected on credential-keyed routes), or
/// a `Vary` naming a header the route does not key on. Also applied to the
/// `304` of a revalidation before it refreshes the entry.
pub(super) fn header_refusal(
    headers: &http::HeaderMap,
    policy: &RoutePolicy,
    config: &CacheConfig,
    cc: &CacheControl,
) -> Option<Refusal> {
    let personal = super::keys_credentials(policy, config);
    if headers.contains_key(header::SET_COOKIE) {
        return Some(Refusal::SetCookie);
    }
    if cc.no_store || cc.no_cache || (cc.private && !personal) {
        return Some(Refusal::CacheControl);
    }
    // `Accept-Encoding` is the cache's own to negotiate: it serves each
    // client the stored coding or the identity (see `encoding`).
    let keyed = |h: &str| {
        h.eq_ignore_ascii_case("accept-encoding")
            || policy.vary().iter().any(|r| r.eq_ignore_ascii_case(h))
            || (policy.auth() == AuthPolicy::Private && config.is_credential(h))
    };
    let unkeyed_vary = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .any(|h| !keyed(h))
        })
    });
    unkeyed_vary.then_some(Refusal::Vary)
}

/// Whether `status` is one the route stores by negative caching.
fn is_negative(status: StatusCode, policy: &RoutePolicy) -> bool {
    is_storable_status(status)
        && !is_default_storable_status(status)
        && policy.negative().contains(&status.as_u16())
}

/// A miss's response after the store decision.
pub(super) struct StoreDecision {
    pub(super) response: Response,
    pub(super) stored: bool,
    pub(super) detail: Option<NotStored>,
    pub(super) etag: Option<HeaderValue>,
    /// The stored value, for requests waiting on this one.
    pub(super) encoded: Option<Bytes>,
    /// The stored body, when it is compressed: the response shows the
    /// representation the request takes (`respond_stored`).
    pub(super) coded: Option<CodedBody>,
}

/// A stored body in a content coding.
pub(super) struct CodedBody {
    pub(super) coding: Encoding,
    pub(super) body: Bytes,
    /// The handler compressed it (the response's body is this one), not
    /// the cache (the response's body is the identity).
    pub(super) by_handler: bool,
}

impl StoreDecision {
    fn refused(response: Response, detail: impl Into<NotStored>) -> Self {
        Self {
            response,
            stored: false,
            detail: Some(detail.into()),
            etag: None,
            encoded: None,
            coded: None,
        }
    }
}

pub(super) async fn store_if_cacheable(
    route: &Exchange,
    response: Response,
    noted: Generations,
) -> StoreDecision {
    let (cache, policy) = (&route.cache, route.policy);
    let (mut parts, body) = response.into_parts();
    // A targeted field (`CDN-Cache-Control`, RFC 9213) governs this cache
    // in place of `Cache-Control`, which still goes to clients unchanged.
    let target = cache.config().targeted_cache_control.as_ref();
    let (cc, targeted) = freshness::governing(&parts.headers, target);
    if let Some(detail) = refusal(&parts, policy, cache.config(), &cc) {
        return route.refuse(Response::from_parts(parts, body), detail);
    }
    let negative = is_negative(parts.status, policy);
    let route_ttl = u64::from(if negative {
        policy.negative_ttl_secs()
    } else {
        policy.ttl_secs()
    });
    let now = now_ms();
    let wall = std::time::UNIX_EPOCH + Duration::from_millis(now);
    let age = freshness::initial_age(&parts.headers, wall);
    let ttl = route.fresh_for(&cc, targeted, &parts.headers, age, route_ttl, wall);
    if ttl == 0 {
        return route.refuse(Response::from_parts(parts, body), NotStored::NoFreshness);
    }
    // Errors are never served stale. A route's own window wins; else the
    // handler's RFC 5861 directives; else the cache's default.
    let (stale, stale_on_error_only) = if negative {
        (0, false)
    } else if let Some(secs) = policy.stale_secs() {
        (secs, false)
    } else if let Some(secs) = cc.stale_while_revalidate {
        (u32::try_from(secs).unwrap_or(u32::MAX), false)
    } else if let Some(secs) = cc.stale_if_error {
        (u32::try_from(secs).unwrap_or(u32::MAX), true)
    } else {
        (route.stale_secs(), false)
    };
    let mut entry = Entry::new(parts.status, now, 0, Bytes::new());
    stamp(&mut entry, now, age, ttl);
    let origin_ms = entry.stored_at_ms;
    entry.stale_secs = stale;
    entry.stale_on_error_only = stale_on_error_only;
    entry.content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    entry.etag = parts.headers.get(header::ETAG).cloned();
    entry.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| is_storable_header(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let expiry = route.expiry(ttl, stale, route_ttl);
    let limit = route.body_limit();
    match handler_coding(&parts.headers) {
        Ok(coding) => {
            entry.encoding = coding;
            entry.encoded_by_handler = coding.is_some();
        }
        Err(()) => {
            let detail = Refusal::ContentEncoding;
            return route.refuse(Response::from_parts(parts, body), detail);
        }
    }

    // A body of unknown length (chunked, streamed) goes to the client as it
    // arrives, and is stored when it ends within the limit. Event streams
    // are never stored.
    if http_body::Body::size_hint(&body).upper().is_none() && !is_event_stream(&parts.headers) {
        if let Err(e) = entry.check() {
            tracing::debug!(error = %e, "route cache: unstorable headers");
            return route.refuse(Response::from_parts(parts, body), Refusal::Headers);
        }
        finish_headers(&mut parts.headers, route, origin_ms, ttl, None);
        if entry.encoding.is_some() || route.compresses(&entry) {
            // Its entry may be stored compressed: other requests get the
            // representation they take.
            add_vary(&mut parts.headers, &["accept-encoding"]);
        }
        let pending = Pending {
            route: route.clone(),
            entry,
            expiry,
            noted,
        };
        let body = Body::new(Tee::new(body, limit, move |copy| pending.store(copy)));
        return StoreDecision {
            response: Response::from_parts(parts, body),
            stored: false,
            detail: Some(NotStored::Streamed),
            etag: None,
            encoded: None,
            coded: None,
        };
    }

    let bytes = match buffer(body, limit).await {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::Passthrough(body) => {
            return route.refuse(Response::from_parts(parts, body), Refusal::Size)
        }
    };
    let etag = with_body(&mut entry, bytes.clone());
    route.compress(&mut entry).await;
    let encoded = match entry.encode() {
        Ok(encoded) => Bytes::from(encoded),
        Err(e) => {
            tracing::debug!(error = %e, "route cache: unstorable headers");
            let response = Response::from_parts(parts, Body::from(bytes));
            return route.refuse(response, Refusal::Headers);
        }
    };
    if let Some(detail) = route.save(encoded.clone(), expiry, &noted).await.refusal() {
        // Counted by `save`.
        return StoreDecision::refused(Response::from_parts(parts, Body::from(bytes)), detail);
    }
    finish_headers(&mut parts.headers, route, origin_ms, ttl, etag.as_ref());
    let coded = entry.encoding.map(|coding| CodedBody {
        coding,
        body: entry.body.clone(),
        by_handler: entry.encoded_by_handler,
    });
    StoreDecision {
        response: Response::from_parts(parts, Body::from(bytes)),
        stored: true,
        detail: None,
        etag,
        encoded: Some(encoded),
        coded,
    }
}

impl Exchange {
    /// The encoding this route stores compressible bodies in, if any.
    fn compression(&self) -> Option<Encoding> {
        self.policy.compression_under(self.cache.config())
    }

    /// Whether an entry of `entry`'s type would be compressed once its
    /// body is big enough.
    fn compresses(&self, entry: &Entry) -> bool {
        self.compression().is_some() && compressible(entry.content_type.as_ref())
    }

    /// Compresses `entry`'s body in the route's encoding when the handler
    /// did not, its type compresses, it is at least `compress_min_bytes`,
    /// and compressing makes it smaller.
    /// Large bodies are compressed off the async worker
    /// (`Encoding::compress_off_worker`).
    async fn compress(&self, entry: &mut Entry) {
        if entry.encoding.is_some()
            || entry.body.len() < self.cache.config().compress_min_bytes
            || !compressible(entry.content_type.as_ref())
        {
            return;
        }
        let Some(encoding) = self.compression() else {
            return;
        };
        if let Some(packed) = encoding.compress_off_worker(entry.body.clone()).await {
            if packed.len() < entry.body.len() {
                entry.body = Bytes::from(packed);
                entry.encoding = Some(encoding);
            }
        }
    }

    /// A response not stored, for `detail`: counted and logged.
    fn refuse(&self, response: Response, detail: impl Into<NotStored>) -> StoreDecision {
        let detail = detail.into();
        self.count_refusal(detail);
        StoreDecision::refused(response, detail)
    }

    /// Counts (if it is a refusal) and logs a response not stored.
    pub(super) fn count_refusal(&self, detail: impl Into<NotStored>) {
        let detail = detail.into();
        if let Some(reason) = detail.refusal() {
            self.metrics.refused(reason);
        }
        tracing::debug!(reason = detail.detail(), "route cache: response not stored");
    }

    /// Saves an encoded entry under the request's key and indexes, for
    /// `expiry`, unless the generations `noted` changed; counts it as
    /// stored or refused (`invalidated`, `store-failed`).
    pub(super) async fn save(
        &self,
        value: Bytes,
        expiry: Duration,
        noted: &Generations,
    ) -> SaveStatus {
        let len = value.len();
        let saved = self
            .cache
            .save(&self.key, value, expiry, &self.indexes(), noted)
            .await;
        match saved.refusal() {
            None => self.metrics.stored(len),
            Some(detail) => self.count_refusal(detail),
        }
        saved
    }

    /// How long, from now, an entry of a response may be served fresh
    /// (RFC 9111 §4.2): the route's `route_ttl`, shortened by the
    /// freshness the governing directives `cc` give (`s-maxage`, else
    /// `max-age`, else `Expires`) less the response's `age`, unless the
    /// cache says the handler has no say. The handler's freshness has the
    /// last word.
    pub(super) fn fresh_for(
        &self,
        cc: &CacheControl,
        targeted: bool,
        headers: &http::HeaderMap,
        age: u64,
        route_ttl: u64,
        wall: std::time::SystemTime,
    ) -> u64 {
        if !self.cache.config().cap_ttl_to_handler_max_age {
            return route_ttl;
        }
        freshness::lifetime(cc, targeted, headers, wall).map_or(route_ttl, |lifetime| {
            route_ttl.min(lifetime.saturating_sub(age))
        })
    }

    /// How long the store keeps an entry fresh for `ttl` seconds with a
    /// stale window of `stale`: through that window (freshness is decided
    /// from the stored-at time inside the entry), and on a route that
    /// revalidates, another `route_ttl` for the handler to confirm it with
    /// a `304`.
    pub(super) fn expiry(&self, ttl: u64, stale: u32, route_ttl: u64) -> Duration {
        let revalidation = if self.policy.revalidates() {
            route_ttl
        } else {
            0
        };
        Duration::from_secs(ttl + u64::from(stale) + revalidation)
    }
}

/// Stamps `entry` as born `age` seconds before `now` (ms) and fresh for
/// `ttl` seconds from now: a hit's `Age` and `Date` then count from the
/// response's origin.
pub(super) fn stamp(entry: &mut Entry, now: u64, age: u64, ttl: u64) {
    entry.stored_at_ms = now.saturating_sub(age.saturating_mul(1000));
    entry.ttl_secs = u32::try_from(ttl.saturating_add(age)).unwrap_or(u32::MAX);
}

/// A miss's headers once its response may be stored: the `ETag`, the
/// `Date` hits will carry (RFC 9110 §6.6.1) unless the handler set one,
/// and the generated `Cache-Control` unless the handler set its own.
fn finish_headers(
    headers: &mut http::HeaderMap,
    route: &Exchange,
    origin_ms: u64,
    ttl: u64,
    etag: Option<&HeaderValue>,
) {
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag.clone());
    }
    if !headers.contains_key(header::DATE) {
        headers.insert(header::DATE, freshness::format_date(origin_ms));
    }
    set_cache_control(headers, route.policy, route.personal(), ttl);
}

/// Puts `bytes` in `entry`, with the handler's `ETag` or one computed from
/// the body (validators for representations only: an error status gets
/// none); returns the tag.
fn with_body(entry: &mut Entry, bytes: Bytes) -> Option<HeaderValue> {
    if entry.etag.is_none() && is_default_storable_status(entry.status) {
        entry.etag = Some(etag_for(&bytes));
    }
    entry.body = bytes;
    entry.etag.clone()
}

/// The content coding the handler applied: none (or `identity`), one the
/// cache can decode, or (`Err`) anything else: several codings, or one
/// whose cargo feature is off.
fn handler_coding(headers: &http::HeaderMap) -> Result<Option<Encoding>, ()> {
    let mut codings = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("identity"));
    let Some(first) = codings.next() else {
        return Ok(None);
    };
    match Encoding::from_token(first) {
        Some(coding) if coding.is_available() && codings.next().is_none() => Ok(Some(coding)),
        _ => Err(()),
    }
}

/// Whether the response is a server-sent event stream (never stored).
fn is_event_stream(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

/// A streamed miss, stored when its body has ended within the limit.
struct Pending {
    route: Exchange,
    entry: Entry,
    expiry: Duration,
    noted: Generations,
}

impl Pending {
    /// Stores the entry with the body's copy, in a task of its own (the
    /// body's last frame is being sent); counts a body that could not be
    /// kept (`why`) as refused.
    fn store(mut self, copy: Result<Bytes, Refusal>) {
        let bytes = match copy {
            Ok(bytes) => bytes,
            Err(why) => {
                self.route.count_refusal(why);
                return;
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime nothing can be saved.
            self.route.count_refusal(Refusal::StoreFailed);
            return;
        };
        with_body(&mut self.entry, bytes);
        runtime.spawn(async move {
            let route = &self.route;
            route.compress(&mut self.entry).await;
            match self.entry.encode() {
                Ok(encoded) => {
                    route
                        .save(Bytes::from(encoded), self.expiry, &self.noted)
                        .await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "route cache: unstorable streamed response");
                    route.count_refusal(Refusal::Headers);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

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
            let parts = parts(status, pairs);
            refusal(
                &parts,
                policy,
                &CacheConfig::default(),
                &CacheControl::parse(&parts.headers),
            )
            .is_none()
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
}

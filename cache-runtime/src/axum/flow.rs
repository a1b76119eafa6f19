//! The hit/miss flow of one cached request.

use super::body::{buffer, Buffered};
use super::{Asked, ClientDirective, Context, Keyed, RequestContext, CREDENTIALS};
use crate::cache::{Lease, Lookup, RouteCache};
use crate::coalesce::Join;
use crate::entry::{is_storable_header, Entry, Freshness, Prepared};
use crate::fault::now_ms;
use crate::key;
use crate::policy::{AuthPolicy, CachedRoute, RoutePolicy};
use crate::semantics::{
    cache_status, etag_for, header_value, if_none_match, push_decimal, CacheControl, Outcome,
};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::Either;
use http::{header, response::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::{
    future::{Future, Ready},
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

/// The response header saying how the cache answered: `HIT`, `STALE` or
/// `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const HIT: HeaderValue = HeaderValue::from_static("HIT");
const STALE: HeaderValue = HeaderValue::from_static("STALE");
const MISS: HeaderValue = HeaderValue::from_static("MISS");

static MISSING_LAYER_LOGGED: AtomicBool = AtomicBool::new(false);

/// Runs a cached route: answers from the cache when it can, otherwise runs
/// `handler` and stores its response when it is cacheable. Called by the code
/// `#[cached_route]` generates; `handler` is the user's body, not yet started.
///
/// A hit that needs no I/O (the in-process store, an L1 hit) is answered
/// before this returns, and the returned future is then a ready response:
/// the handler's future and the miss machinery never take room in the
/// request's future, which axum allocates for every request.
pub fn serve<R, F>(ctx: RequestContext<R>, handler: F) -> impl Future<Output = Response> + Send
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    start::<R, F>(ctx.into_state(), None, Vec::new(), handler)
}

/// [`serve`] for routes whose key is an expression over the handler's
/// bound parameters (`key = format!("item:{id}")`: `key` is its value)
/// and for routes with `tags` (the entry is listed under each, for
/// [`RouteCache::invalidate_tag`]).
pub fn serve_with<R, F>(
    ctx: RequestContext<R>,
    key: Option<String>,
    tags: Vec<String>,
    handler: F,
) -> impl Future<Output = Response> + Send
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    start::<R, F>(ctx.into_state(), key, tags, handler)
}

/// How a stored entry is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    Fresh,
    /// Past its TTL, inside the stale window, while a refresh runs.
    Stale,
    /// Computed by another request this one waited for.
    Collapsed,
}

/// A request's answer: ready (an in-process hit), or still to come.
type Serving = Either<Ready<Response>, Pin<Box<dyn Future<Output = Response> + Send>>>;

fn ready(response: Response) -> Serving {
    Either::Left(std::future::ready(response))
}

fn pending(future: impl Future<Output = Response> + Send + 'static) -> Serving {
    Either::Right(Box::pin(future))
}

fn start<R, F>(state: Context, custom_key: Option<String>, tags: Vec<String>, handler: F) -> Serving
where
    R: CachedRoute,
    F: Future + Send + 'static,
    F::Output: IntoResponse,
{
    let policy = R::POLICY;
    // Requests the cache does not answer (bypassed, or no layer) run the
    // handler in a boxed future: one allocation each, the price of a small
    // ready future for hits.
    let keyed = match state {
        Context::Keyed(keyed) => keyed,
        Context::Bypass(status) => {
            return pending(async move {
                let mut response = handler.await.into_response();
                response.headers_mut().insert(CACHE_STATUS, status);
                response
            })
        }
        Context::NoLayer => {
            if !MISSING_LAYER_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    route = policy.route_id(),
                    "route cache: no RouteCache layer on this router; add `.layer(cache.layer())` \
                     after the cached routes. Serving uncached."
                );
            }
            return pending(async move { handler.await.into_response() });
        }
    };
    let Keyed {
        cache,
        mut key,
        uri,
        request,
    } = keyed;
    if let Some(value) = custom_key {
        key.custom(&value);
    }
    let route = Route {
        cache,
        policy,
        key: key.finish(),
        uri,
        tags,
    };
    let looked = if request.client == ClientDirective::None {
        route.cache.lookup_now(&route.key)
    } else {
        Some(Lookup::Miss)
    };
    match looked {
        Some(lookup) => match route.answer(lookup, handler, request.if_none_match.as_ref()) {
            Answer::Served(response) => ready(response),
            Answer::Compute(handler, faulted) => {
                pending(async move { route.miss(handler, faulted, &request).await })
            }
        },
        // Redis must be asked.
        None => pending(async move {
            let lookup = route.cache.fetch(&route.key).await;
            match route.answer(lookup, handler, request.if_none_match.as_ref()) {
                Answer::Served(response) => response,
                // Boxed: the miss's state (coalescing, leases, buffering and
                // storing the body) would otherwise sit in the future of
                // every request that reaches Redis, hits included.
                Answer::Compute(handler, faulted) => {
                    Box::pin(route.miss(handler, faulted, &request)).await
                }
            }
        }),
    }
}

/// A lookup's consequence.
enum Answer<F> {
    Served(Response),
    /// The handler must run; `true` after a backend fault.
    Compute(F, bool),
}

/// One request's route, cache and key.
#[derive(Clone)]
struct Route {
    cache: RouteCache,
    policy: RoutePolicy,
    key: String,
    /// The request target and the route's tags, to index a stored entry by.
    uri: http::Uri,
    tags: Vec<String>,
}

impl Route {
    /// Serves a stored entry that is fresh, or stale with a refresh
    /// started; anything else needs the handler.
    fn answer<F>(&self, lookup: Lookup, handler: F, conditional: Option<&HeaderValue>) -> Answer<F>
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        match lookup {
            Lookup::Hit(entry) => match entry.entry().freshness(now_ms()) {
                Freshness::Fresh => Answer::Served(self.hit(&entry, conditional, Served::Fresh)),
                Freshness::Stale => {
                    self.refresh_in_background(handler, entry.entry().stored_at_ms);
                    Answer::Served(self.hit(&entry, conditional, Served::Stale))
                }
                // Older than its stale window (clocks differ between
                // instances): a miss.
                _ => Answer::Compute(handler, false),
            },
            Lookup::Miss => Answer::Compute(handler, false),
            Lookup::Fault => Answer::Compute(handler, true),
        }
    }

    /// Runs the handler for a request the cache could not answer.
    async fn miss<F>(&self, handler: F, faulted: bool, request: &Asked) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let conditional = request.if_none_match.as_ref();
        if faulted {
            // After a fault, do not pay for a second failing call.
            let response = self.uncached(handler).await;
            return self.respond(response, Outcome::BackendError, None, conditional);
        }
        if request.head {
            let response = self.uncached(handler).await;
            let outcome = Outcome::UriMiss {
                stored: false,
                detail: Some("head"),
            };
            return self.respond(response, outcome, None, conditional);
        }
        match request.client {
            ClientDirective::NoStore => {
                let response = self.uncached(handler).await;
                self.respond(
                    response,
                    Outcome::Request { stored: false },
                    None,
                    conditional,
                )
            }
            ClientDirective::Refresh => {
                let stored = self.compute(handler).await;
                let outcome = Outcome::Request {
                    stored: stored.stored,
                };
                self.respond(stored.response, outcome, stored.etag, conditional)
            }
            ClientDirective::None => self.coalesced_miss(handler, conditional).await,
        }
    }

    /// A miss, computed once however many requests (in this process and,
    /// with Redis, across instances) miss the key at the same time.
    async fn coalesced_miss<F>(&self, handler: F, conditional: Option<&HeaderValue>) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let wait = self.cache.config().coalesce_wait();
        let leader = match self.cache.inflight().join(&self.key) {
            Join::Follow(follower) => {
                if let Some(entry) = follower
                    .wait(wait)
                    .await
                    .and_then(|v| Prepared::decode(v).ok())
                {
                    return self.hit(&entry, conditional, Served::Collapsed);
                }
                // The leader stored nothing (an error, an uncacheable
                // response), failed or took too long: compute here.
                let stored = self.compute(handler).await;
                return self.respond_stored(stored, conditional);
            }
            Join::Lead(leader) => leader,
        };
        let lease = self.cache.acquire_lease(&self.key).await;
        if matches!(lease, Lease::Held) {
            // Another instance is computing it: wait for its entry, and
            // take it only if it is fresh.
            let value = self.cache.wait_for_entry(&self.key, wait).await;
            if let Some((entry, value)) = value.and_then(fresh) {
                leader.publish(Some(value));
                return self.hit(&entry, conditional, Served::Collapsed);
            }
        }
        // A leader elected just after the previous one published would
        // otherwise compute the entry again: check once more.
        let value = self.cache.raw_get(&self.key).await.ok().flatten();
        if let Some((entry, value)) = value.and_then(fresh) {
            leader.publish(Some(value));
            return self.hit(&entry, conditional, Served::Collapsed);
        }
        let stored = self.compute(handler).await;
        // Release (in the background) before publishing, so that a request
        // arriving after the publication finds the lease free.
        drop(lease);
        leader.publish(stored.encoded.clone());
        self.respond_stored(stored, conditional)
    }

    /// Recomputes a stale entry (stored at `seen_ms`) in the background,
    /// once per key in this process (and, with Redis, across instances).
    fn refresh_in_background<F>(&self, handler: F, seen_ms: u64)
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        let Some(leader) = self.cache.inflight().try_lead(&self.key) else {
            return; // already being refreshed here
        };
        let route = self.clone();
        // Bounded: a hung handler must not hold the key's refresh forever.
        let limit = route.cache.config().lease_ttl();
        tokio::spawn(tokio::time::timeout(limit, async move {
            let lease = route.cache.acquire_lease(&route.key).await;
            if matches!(lease, Lease::Held) {
                return; // another instance refreshes it
            }
            // A refresh that finished between this request's read and now
            // has already replaced the stale entry.
            if let Lookup::Hit(current) = route.cache.lookup(&route.key).await {
                if current.entry().stored_at_ms > seen_ms {
                    return;
                }
            }
            let stored = route.compute(handler).await;
            if !stored.stored {
                // A 5xx under stale-if-error, or a refused write (a full or
                // read-only Redis), leaves the stale entry in place.
                let keep = (stored.response.status().is_server_error() && route.stale_if_error())
                    || stored.detail == Some("store-failed");
                if !keep {
                    // No storable answer any more: drop the stale entry so
                    // the next request gets the handler's own.
                    if let Err(e) = route.cache.remove(&route.key).await {
                        route.cache.fault("delete", &route.key, &e);
                    }
                }
            }
            drop(lease);
            leader.publish(stored.encoded);
        }));
    }

    /// The index sets a stored entry is listed in: its request path (for
    /// [`RouteCache::invalidate`]) and its tags.
    fn indexes(&self) -> Vec<String> {
        let prefix = self.cache.config().prefix();
        let path = key::path_index(
            prefix,
            self.uri.path().as_bytes(),
            self.uri.query().map(str::as_bytes),
            self.policy.query(),
        );
        std::iter::once(path)
            .chain(self.tags.iter().map(|tag| key::tag_index(prefix, tag)))
            .collect()
    }

    fn stale_if_error(&self) -> bool {
        self.policy
            .stale_if_error()
            .unwrap_or(self.cache.config().stale_if_error())
    }

    /// The route's stale window in seconds.
    fn stale_secs(&self) -> u32 {
        self.policy.stale_secs().unwrap_or_else(|| {
            u32::try_from(self.cache.config().stale().as_secs()).unwrap_or(u32::MAX)
        })
    }

    /// Runs the handler; its response is not stored.
    async fn uncached<F>(&self, handler: F) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let mut response = handler.await.into_response();
        add_vary(response.headers_mut(), self.policy.vary());
        response
    }

    /// Runs the handler and stores its response if it is cacheable.
    async fn compute<F>(&self, handler: F) -> Stored
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let response = self.uncached(handler).await;
        store_if_cacheable(self, response).await
    }

    fn respond_stored(&self, stored: Stored, conditional: Option<&HeaderValue>) -> Response {
        let outcome = Outcome::UriMiss {
            stored: stored.stored,
            detail: stored.detail,
        };
        self.respond(stored.response, outcome, stored.etag, conditional)
    }

    /// A miss's response with the cache's headers, or a `304` when the
    /// stored entry's tag matches the request's `If-None-Match`.
    fn respond(
        &self,
        mut response: Response,
        outcome: Outcome,
        etag: Option<HeaderValue>,
        conditional: Option<&HeaderValue>,
    ) -> Response {
        self.mark(response.headers_mut(), MISS, outcome);
        or_not_modified(response, etag.as_ref(), conditional)
    }

    fn hit(&self, entry: &Prepared, conditional: Option<&HeaderValue>, served: Served) -> Response {
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
        or_not_modified(response, entry.etag.as_ref(), conditional)
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
                generated_cache_control(&self.policy, remaining),
            );
        }
        let (x_cache, outcome) = match served {
            Served::Fresh => (HIT, Outcome::Hit { ttl: remaining }),
            Served::Collapsed => (HIT, Outcome::Collapsed { ttl: remaining }),
            Served::Stale => (
                STALE,
                Outcome::Stale {
                    over: age.saturating_sub(ttl),
                },
            ),
        };
        headers.insert(header::AGE, HeaderValue::from(age));
        self.mark(&mut headers, x_cache, outcome);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        headers
    }

    /// The cache's own headers: how it answered, and why.
    fn mark(&self, headers: &mut HeaderMap, x_cache: HeaderValue, outcome: Outcome) {
        headers.insert(X_CACHE, x_cache);
        headers.insert(
            CACHE_STATUS,
            cache_status(self.cache.config().status_name(), outcome),
        );
    }
}

/// `response`, or a `304` standing for it when its entity tag `etag`
/// matches the request's `If-None-Match` (`conditional`).
fn or_not_modified(
    response: Response,
    etag: Option<&HeaderValue>,
    conditional: Option<&HeaderValue>,
) -> Response {
    match (conditional, etag) {
        (Some(field), Some(etag)) if if_none_match(field, etag) => not_modified(response.headers()),
        _ => response,
    }
}

/// The entry in a stored value, if it decodes and is fresh.
fn fresh(value: Bytes) -> Option<(Prepared, Bytes)> {
    let entry = Prepared::decode(value.clone()).ok()?;
    (entry.entry().freshness(now_ms()) == Freshness::Fresh).then_some((entry, value))
}

/// The `Cache-Control` the cache sends with a cacheable response that did
/// not set its own: the route's, or `public` (`private` on per-user routes)
/// with the remaining lifetime.
fn generated_cache_control(policy: &RoutePolicy, remaining: u64) -> HeaderValue {
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
                && CREDENTIALS.iter().any(|c| h.eq_ignore_ascii_case(c)))
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
    /// The stored value, for requests waiting on this one.
    encoded: Option<Bytes>,
}

impl Stored {
    fn refused(response: Response, detail: &'static str) -> Self {
        Self {
            response,
            stored: false,
            detail: Some(detail),
            etag: None,
            encoded: None,
        }
    }
}

async fn store_if_cacheable(route: &Route, response: Response) -> Stored {
    let (cache, policy) = (&route.cache, &route.policy);
    let (mut parts, body) = response.into_parts();
    if let Some(detail) = refusal(&parts, policy) {
        return Stored::refused(Response::from_parts(parts, body), detail);
    }
    let mut ttl = u64::from(policy.ttl_secs());
    if cache.config().cap_ttl_to_handler_max_age() {
        if let Some(max_age) = CacheControl::parse(&parts.headers).shared_max_age() {
            ttl = ttl.min(max_age);
        }
    }
    if ttl == 0 {
        return Stored::refused(Response::from_parts(parts, body), "max-age");
    }
    let limit = policy.max_body().unwrap_or(cache.config().max_body());
    let bytes = match buffer(body, limit).await {
        Buffered::Complete(bytes) => bytes,
        Buffered::Passthrough(body) => {
            return Stored::refused(Response::from_parts(parts, body), "size")
        }
    };

    let etag = parts
        .headers
        .get(header::ETAG)
        .cloned()
        .unwrap_or_else(|| etag_for(&bytes));
    let stale = route.stale_secs();
    let mut entry = Entry::new(
        parts.status,
        now_ms(),
        u32::try_from(ttl).unwrap_or(u32::MAX),
        bytes.clone(),
    );
    entry.stale_secs = stale;
    entry.content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    entry.etag = Some(etag.clone());
    entry.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| is_storable_header(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let encoded = match entry.encode() {
        Ok(encoded) => Bytes::from(encoded),
        Err(e) => {
            tracing::debug!(key = route.key, error = %e, "route cache: response not stored");
            return Stored::refused(Response::from_parts(parts, Body::from(bytes)), "headers");
        }
    };
    // The store keeps the entry through its stale window; freshness is
    // decided from the stored-at time inside it.
    let expiry = Duration::from_secs(ttl + u64::from(stale));
    if !cache
        .save(&route.key, encoded.clone(), expiry, &route.indexes())
        .await
    {
        return Stored::refused(
            Response::from_parts(parts, Body::from(bytes)),
            "store-failed",
        );
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
        encoded: Some(encoded),
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

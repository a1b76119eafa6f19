//! Revalidation through the handler (RFC 9111 §4.3), for routes with
//! `revalidate = true`: the handler saw the request made conditional on an
//! expired entry (`super::RequestKey::prepare_revalidation`). A `304` refreshes
//! the entry (its stored headers updated as §4.3.4 says) and the stored
//! body is served with its status; any other answer is a miss. One
//! revalidation runs per key, here and across instances. Also the
//! background refresh of an entry served stale (`stale-while-revalidate`).

use super::conditional::Conditions;
use super::counted::PendingRequest;
use super::exchange::Exchange;
use super::fill::FillResult;
use super::respond::HitKind;
use super::storable::{header_refusal, stamp, store_if_cacheable};
use super::Intent;
use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::entry::{is_storable_header, Entry};
use crate::fill::generation::Generations;
use crate::fill::lookup::SaveStatus;
use crate::http::freshness;
use crate::observe::{Answered, NotStored, Refusal};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use std::{future::Future, sync::Arc, time::Duration};

impl Exchange {
    /// Asks the handler to revalidate `stale` (the request it sees is
    /// conditional on it), once per key however many requests (here and,
    /// with Redis, on other instances) find it expired at the same time:
    /// the others are answered from the entry it refreshes or replaces.
    pub(super) async fn revalidate<F>(
        &self,
        handler: F,
        stale: Arc<Prepared>,
        request: &Intent,
    ) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let unanswered = PendingRequest::new(self, Answered::Miss);
        let conditional = &request.conditions;
        let (response, how) = self
            .coalesced(conditional, None, |noted| {
                self.revalidate_noted(handler, &stale, conditional, noted)
            })
            .await;
        unanswered.settle();
        self.answered(how);
        response
    }

    /// Runs the conditional request through the handler: a `304` refreshes
    /// `stale`, anything else is a miss's answer.
    async fn revalidate_noted<F>(
        &self,
        handler: F,
        stale: &Prepared,
        conditional: &Conditions,
        noted: Generations,
    ) -> FillResult
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let response = self.uncached(handler).await;
        if response.status() != StatusCode::NOT_MODIFIED {
            let stored = store_if_cacheable(self, response, noted).await;
            let encoded = stored.encoded.clone();
            return FillResult {
                response: self.respond_stored(stored, conditional),
                encoded,
                how: Answered::Miss,
            };
        }
        // The `304`'s own `Set-Cookie` reaches the client, never the entry.
        let cookies: Vec<_> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        let with_cookies = |mut served: Response| {
            for cookie in &cookies {
                served
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            served
        };
        let revalidated = |response: Response, encoded: Option<Bytes>| FillResult {
            response: with_cookies(response),
            encoded,
            how: Answered::Revalidated,
        };
        let Some((entry, expiry)) = self.refreshed(stale.entry(), response.headers()) else {
            // Confirmed, but with no freshness left: serve it once, unstored.
            self.metrics.refused(Refusal::CacheControl);
            self.decode_ahead(stale, conditional).await;
            let served = self.hit(stale, conditional, HitKind::Revalidated(false), now_ms());
            return revalidated(served.unwrap_or_else(undecodable), None);
        };
        // The same storage rules as a fresh response (RFC 9111 §3): a
        // `304` saying `no-store`, `private` or `Vary` on an unkeyed
        // header, or setting a cookie, confirms the body for this request
        // but refreshes no entry.
        let target = self.cache.config().targeted_cache_control.as_ref();
        let (cc, _) = freshness::governing(response.headers(), target);
        let refused = header_refusal(response.headers(), self.policy, self.cache.config(), &cc);
        let encoded = match (refused, entry.encode()) {
            (Some(detail), _) => {
                self.count_refusal(detail);
                None
            }
            (None, Ok(value)) => {
                let value = Bytes::from(value);
                let saved = self.save(value.clone(), expiry, &noted).await;
                (saved == SaveStatus::Stored).then_some(value)
            }
            (None, Err(_)) => {
                self.metrics.refused(Refusal::Headers);
                None
            }
        };
        let prepared = Prepared::from_entry(entry);
        self.decode_ahead(&prepared, conditional).await;
        let served = self.hit(
            &prepared,
            conditional,
            HitKind::Revalidated(encoded.is_some()),
            now_ms(),
        );
        revalidated(served.unwrap_or_else(undecodable), encoded)
    }

    /// The stored entry updated by a `304`'s headers (RFC 9111 §4.3.4):
    /// each header field the `304` carries replaces the stored one of that
    /// name; freshness is taken anew from the result. `None` when it has no
    /// freshness left.
    fn refreshed(&self, stored: &Entry, not_modified: &HeaderMap) -> Option<(Entry, Duration)> {
        let mut entry = stored.clone();
        for name in not_modified.keys() {
            if name == header::ETAG {
                entry.etag = not_modified.get(name).cloned();
                continue;
            }
            if !is_storable_header(name) {
                continue;
            }
            entry.headers.retain(|(stored_name, _)| stored_name != name);
            for value in not_modified.get_all(name) {
                entry.headers.push((name.clone(), value.clone()));
            }
        }
        let merged: HeaderMap = entry
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let now = now_ms();
        let wall = std::time::UNIX_EPOCH + Duration::from_millis(now);
        // The 304's own `Age`/`Date` (never stored) give its age.
        let age = freshness::initial_age(not_modified, wall);
        let route_ttl = u64::from(self.policy.ttl_secs());
        let target = self.cache.config().targeted_cache_control.as_ref();
        let (cc, targeted) = freshness::governing(&merged, target);
        let ttl = self.fresh_for(&cc, targeted, &merged, age, route_ttl, wall);
        if ttl == 0 {
            return None;
        }
        stamp(&mut entry, now, age, ttl);
        let expiry = self.expiry(ttl, entry.stale_secs, route_ttl);
        Some((entry, expiry))
    }
}

impl Exchange {
    /// Whether a fresh `entry` is past the route's refresh-ahead point.
    pub(super) fn due_for_refresh(&self, entry: &Entry) -> bool {
        let Some(permille) = self.policy.refresh_ahead() else {
            return false;
        };
        let age_ms = now_ms().saturating_sub(entry.stored_at_ms);
        age_ms.saturating_mul(1000) >= u64::from(entry.ttl_secs) * 1000 * u64::from(permille)
    }

    /// Recomputes an entry (stored at `seen_ms`) in the background, once
    /// per key in this process (and, with Redis, across instances): a
    /// stale one, or, `ahead` of its expiry, a fresh one past the route's
    /// refresh-ahead point (which an answer that cannot be stored then
    /// leaves in place).
    pub(super) fn refresh_in_background<F>(&self, handler: F, seen_ms: u64, ahead: bool)
    where
        F: Future + Send + 'static,
        F::Output: IntoResponse,
    {
        let Some(leader) = self.cache.inflight().try_lead(&self.key) else {
            return; // already being refreshed here
        };
        let route = self.clone();
        // Bounded: a hung handler must not hold the key's refresh forever.
        let limit = route.cache.config().lease_ttl;
        let abandoned = self.clone();
        let refresh = tokio::time::timeout(limit, async move {
            let generations = route.generation_keys();
            let (lease, current, noted) = route.cache.acquire_lease(&route.key, generations).await;
            if lease.held_elsewhere() {
                return; // another instance refreshes it
            }
            // A refresh that finished between this request's read and now
            // has already replaced the stale entry.
            let current = current.and_then(|value| Prepared::decode(value).ok());
            if current.is_some_and(|entry| entry.entry().stored_at_ms > seen_ms) {
                return;
            }
            let mut stored = route.compute_noted(handler, noted).await;
            if stored.detail == Some(NotStored::Streamed) {
                // Nobody reads this body: read it here, so that the entry
                // is stored when it ends (the tee keeps at most the route's
                // body limit, and an oversized body is dropped as it is
                // read, never collected).
                let body = std::mem::replace(stored.response.body_mut(), Body::empty());
                drain(body, route.body_limit()).await;
            } else if !stored.stored {
                // A 5xx under stale-if-error, or a refused write (a full or
                // read-only Redis), leaves the stale entry in place.
                let keep = ahead
                    || (stored.response.status().is_server_error() && route.stale_if_error())
                    || stored.detail == Some(NotStored::Refused(Refusal::StoreFailed));
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
        });
        tokio::spawn(async move {
            if refresh.await.is_err() {
                // Past the lease's life: the entry stays as it was.
                abandoned.metrics.refused(Refusal::Abandoned);
                tracing::warn!(
                    key_hash = %abandoned.cache.key_name(&abandoned.key),
                    limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    "route cache: background refresh abandoned after the lease's life"
                );
            }
        });
    }
}

/// Reads `body` to its end without keeping it, or stops once more than
/// `limit` bytes went by (the tee has refused the entry by then).
async fn drain(mut body: Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen = seen.saturating_add(data.len());
            if seen > limit {
                return;
            }
        }
    }
}

/// The answer when a confirmed entry's body cannot be decompressed for this
/// client (counted and logged already): the handler answered `304` to a
/// question this request did not ask, so there is no body to send. A
/// `502` says the stored response is unusable; the next request computes.
fn undecodable() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

//! A fill: computing a missing or stale entry once, however many requests
//! need it (in this process, and across instances through the lease), and
//! storing it when it is cacheable and no invalidation named it meanwhile
//! (its generations, see `crate::fill::generation`). What an entry is
//! listed under is the request's (`Exchange::indexes`).

use super::conditional::Conditions;
use super::exchange::Exchange;
use super::respond::HitKind;
use super::storable::{store_if_cacheable, StoreDecision};
use crate::entry::prepared::{fresh, Prepared};
use crate::fill::coalesce::Join;
use crate::fill::generation::Generations;
use crate::fill::lease::Lease;
use crate::observe::Answered;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::future::Future;

impl Exchange {
    /// Notes this request's fill generations now.
    pub(super) async fn note(&self) -> Generations {
        self.cache.note(self.generation_keys()).await
    }

    /// Runs `fill` once for the key, however many requests (in this
    /// process and, with Redis, across instances) need it at the same
    /// time: a miss's compute, or a revalidation. The others are answered
    /// from the fresh entry it stores, or run `fill` themselves once it is
    /// known that none is coming.
    ///
    /// `fill` gets the generations noted before it.
    pub(super) async fn coalesced<C, Fut>(
        &self,
        conditional: &Conditions,
        leased: Option<(Lease, Generations)>,
        fill: C,
    ) -> (Response, Answered)
    where
        C: FnOnce(Generations) -> Fut,
        Fut: Future<Output = FillResult>,
    {
        let collapsed = |entry: &Prepared| {
            let response = self.hit(
                entry,
                conditional,
                HitKind::Collapsed,
                crate::clock::now_ms(),
            )?;
            Some((response, Answered::Collapsed))
        };
        let wait = self.cache.config().coalesce_wait;
        let leader = match self.cache.inflight().join(&self.key) {
            Join::Follow(follower) => {
                tracing::debug!("route cache: waiting for this process's fill of the key");
                let filled = follower.wait(wait).await;
                if let Some(entry) = filled.and_then(|v| Prepared::decode(v).ok()) {
                    self.decode_ahead(&entry, conditional).await;
                    if let Some(done) = collapsed(&entry) {
                        return done;
                    }
                }
                // The leader stored nothing (an error, an uncacheable
                // response), failed or took too long: compute here. A lease
                // this request took is released first: other instances
                // waiting on it learn at once that no entry is coming.
                drop(leased);
                tracing::debug!("route cache: no fill to wait for; running the handler");
                let filled = fill(self.note().await).await;
                return (filled.response, filled.how);
            }
            Join::Lead(leader) => leader,
        };
        let (lease, current, noted) = match leased {
            // Taken by the lookup, which found nothing in the same step
            // (and, for a revalidating route, noted all but the tags).
            Some((lease @ Lease::Acquired(_), noted)) => {
                let noted = self.cache.complete(noted, self.tag_generation_keys()).await;
                (lease, None, noted)
            }
            // One round trip: the lease, the entry as it is now (a leader
            // elected just after the previous one stored, or after the
            // lookup found the lease held, would otherwise compute it
            // again), and the generations. A lease taken needlessly is
            // released in the background.
            _ => {
                let generations = self.generation_keys();
                self.cache.acquire_lease(&self.key, generations).await
            }
        };
        if let Some((entry, value)) = current.and_then(fresh) {
            self.decode_ahead(&entry, conditional).await;
            if let Some(done) = collapsed(&entry) {
                leader.publish(Some(value));
                return done;
            }
        }
        match &lease {
            Lease::Held { mine: false } => {
                tracing::debug!("route cache: lease held by another instance; waiting");
            }
            // A request of this process holds it, and follows this one.
            Lease::Held { mine: true } => tracing::debug!("route cache: lease held here"),
            Lease::Acquired(_) => tracing::debug!("route cache: lease taken"),
            Lease::NotNeeded => {}
        }
        if lease.held_elsewhere() {
            // Another instance is computing it: wait for a fresh entry (an
            // expired one kept for revalidation or `stale-if-error` is
            // there all along, and is not what is awaited).
            if let Some((entry, value)) = self.cache.wait_for_entry(&self.key, wait).await {
                self.decode_ahead(&entry, conditional).await;
                if let Some(done) = collapsed(&entry) {
                    leader.publish(Some(value));
                    return done;
                }
            }
            // The other instance stored nothing (or took too long): this
            // process's followers compute now, alongside this request,
            // rather than after it.
            leader.publish(None);
            let filled = fill(noted).await;
            drop(lease);
            return (filled.response, filled.how);
        }
        let filled = fill(noted).await;
        // Release (in the background) before publishing, so that a request
        // arriving after the publication finds the lease free.
        drop(lease);
        leader.publish(filled.encoded);
        (filled.response, filled.how)
    }

    /// Notes the fill's generations, runs the handler and stores its
    /// response if it is cacheable and no invalidation named it meanwhile.
    pub(super) async fn compute<F>(&self, handler: F) -> StoreDecision
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let noted = self.note().await;
        self.compute_noted(handler, noted).await
    }

    /// [`Self::compute`] with the generations noted already (by the
    /// lookup or the lease, in their round trip).
    pub(super) async fn compute_noted<F>(&self, handler: F, noted: Generations) -> StoreDecision
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let response = self.uncached(handler).await;
        store_if_cacheable(self, response, noted).await
    }
}

/// What a coalesced fill did: its answer, the entry it stored (for the
/// requests waiting on it), and how it is counted.
pub(super) struct FillResult {
    pub(super) response: Response,
    pub(super) encoded: Option<Bytes>,
    pub(super) how: Answered,
}

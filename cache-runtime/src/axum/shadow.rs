//! Shadow mode (`#[cached_route(shadow = true)]`, or the builder's
//! `shadow(true)` for every route): the handler answers every request, and
//! its answer is what the client gets. The cache still derives the key,
//! reads the entry it would have served, stores the fresh answer when it
//! may, and compares the two bodies byte for byte after decoding
//! (`route_cache_shadow_total{route, outcome}`), so a team can see how
//! often, and how stale, the cache would have been wrong before it serves
//! anything.

use super::exchange::{ClientDirective, Exchange, Intent};
use super::storable::StoreDecision;
use super::Found;
use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::entry::Entry;
use crate::fill::lookup::Lookup;
use crate::http::semantics::CacheStatus;
use crate::observe::{Answered, NotStored, Shadowed};
use crate::resilience::fault::FaultLog;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Divergences are logged at most once a second, whatever the traffic,
/// each line saying how many it stands for.
static DIVERGENCE_LOG: LazyLock<FaultLog> = LazyLock::new(|| FaultLog::new(Duration::from_secs(1)));

impl Exchange {
    /// Whether this request's route runs in shadow mode.
    pub(super) fn shadows(&self) -> bool {
        self.policy.shadows_under(self.cache.config())
    }

    /// Answers with the handler, whatever is stored: reads the entry the
    /// cache would have served (`found`, when the extractor already looked
    /// it up), stores the fresh answer under the usual rules, and counts
    /// how the two compare.
    pub(super) async fn shadow<F>(
        &self,
        handler: F,
        found: Option<Found>,
        request: &Intent,
    ) -> Response
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let conditional = &request.conditions;
        if request.head || request.client == ClientDirective::NoStore {
            // Neither stores: nothing to compare.
            let response = self.uncached(handler).await;
            self.answered(Answered::Miss);
            let outcome = if request.head {
                CacheStatus::UriMiss {
                    stored: false,
                    detail: Some(NotStored::Head),
                }
            } else {
                CacheStatus::Request { stored: false }
            };
            return self.respond(response, outcome, None, conditional);
        }
        let existing = match found {
            Some(Found::Lookup(Lookup::Hit(entry)) | Found::Revalidate(entry)) => Some(entry),
            Some(Found::Lookup(_)) => None,
            None => self.peek().await,
        };
        let stored = self.compute(handler).await;
        self.compare(existing.as_deref(), &stored);
        self.answered(Answered::Miss);
        self.respond_stored(stored, conditional)
    }

    /// The entry stored for the key, fresh or not, without taking a lease.
    async fn peek(&self) -> Option<Arc<Prepared>> {
        let lookup = match self.cache.lookup_now(&self.key).map(|(lookup, _)| lookup) {
            Some(lookup) => lookup,
            None => {
                self.cache
                    .fetch(&self.key, None::<fn() -> Vec<String>>)
                    .await
            }
        };
        match lookup {
            Lookup::Hit(entry) => Some(entry),
            _ => None,
        }
    }

    /// Counts how the fresh answer `stored` compares with the entry that
    /// was `existing`.
    fn compare(&self, existing: Option<&Prepared>, stored: &StoreDecision) {
        let Some(existing) = existing.map(Prepared::entry) else {
            self.metrics.shadowed(Shadowed::NoEntry, None);
            return;
        };
        let age = Duration::from_millis(now_ms().saturating_sub(existing.stored_at_ms));
        let fresh = stored
            .encoded
            .clone()
            .and_then(|value| Prepared::decode(value).ok());
        let differs_at = match (&fresh, stored.detail) {
            (Some(fresh), _) => self.first_difference(existing, fresh.entry()),
            // Stored after the response has gone, if at all: not compared.
            (None, Some(NotStored::Streamed)) => {
                tracing::debug!("route cache: shadow mode does not compare streamed answers");
                return;
            }
            // The cache would have served an entry where the handler now
            // gives an answer that may not be stored.
            (None, _) => Some(0),
        };
        match differs_at {
            None => self.metrics.shadowed(Shadowed::Match, None),
            Some(offset) => {
                self.metrics.shadowed(Shadowed::Diverged, Some(age));
                if let Some(suppressed) = DIVERGENCE_LOG.admit() {
                    tracing::debug!(
                        route = self.policy.route_id(),
                        key_hash = %self.cache.key_name(&self.key),
                        offset,
                        age_secs = age.as_secs(),
                        suppressed,
                        "route cache: shadow mode: the stored entry differs from the fresh answer"
                    );
                }
            }
        }
    }

    /// Where the bodies of `old` and `new` first differ, after decoding
    /// (`None`: they are equal, status included). A different status
    /// differs at 0.
    fn first_difference(&self, old: &Entry, new: &Entry) -> Option<usize> {
        if old.status != new.status {
            return Some(0);
        }
        let limit = self.body_limit().saturating_mul(16);
        let decoded = |entry: &Entry| match entry.encoding {
            None => Some(entry.body.to_vec()),
            Some(coding) => coding.decompress(&entry.body, limit),
        };
        let (Some(old), Some(new)) = (decoded(old), decoded(new)) else {
            return Some(0);
        };
        match old.iter().zip(&new).position(|(a, b)| a != b) {
            Some(offset) => Some(offset),
            None if old.len() == new.len() => None,
            None => Some(old.len().min(new.len())),
        }
    }
}

//! Cross-instance leases on computing a missing entry: one instance of many
//! takes the lease (`SET NX PX` under a token), the others poll for the
//! entry it stores. In process, [`crate::fill::coalesce`] does the same job.

use crate::cache::RouteCache;
use crate::entry::prepared::fresh;
use crate::entry::prepared::Prepared;
use crate::error::ErrorKind;
use crate::fill::generation::Generations;
use crate::observe::{failure, Op};
use crate::resilience::retry::{deadline_after, retry, Backoff, Step};
use crate::store::{Claim, Claiming, Read, StoreError};
use bytes::Bytes;
use std::time::Duration;

/// Holds a cross-instance lease; dropping it releases the lease (in the
/// background), whatever way its holder ends.
#[derive(Debug)]
pub(crate) struct LeaseGuard {
    cache: RouteCache,
    key: String,
    token: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let (key, token) = (
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        self.cache.release_in_background(key, token);
    }
}

/// The cross-instance lease on computing an entry.
#[derive(Debug)]
pub(crate) enum Lease {
    /// Ours, until the guard is dropped (only its drop is used).
    Acquired(#[allow(dead_code)] LeaseGuard),
    /// Someone else holds it: another instance computing the entry
    /// (`mine` false), or another request of this cache, which waits for
    /// this process's leader (or has just finished; `mine` true).
    Held { mine: bool },
    /// No shared store, or the backend failed: compute without one.
    NotNeeded,
}

impl Lease {
    /// Whether another instance is computing the entry, so this one should
    /// wait for it rather than compute.
    pub(crate) fn held_elsewhere(&self) -> bool {
        matches!(self, Self::Held { mine: false })
    }
}

/// The lease key of entry `key`: inside the entry's key space, and in the
/// same Redis Cluster hash slot (its hash tag is the whole entry key, and
/// entry keys contain no braces).
fn lease_key(key: &str) -> String {
    format!("{key}#lease{{{key}}}")
}

impl RouteCache {
    /// A new lease token: this cache's owner id (see
    /// [`Inflight::owner`](crate::fill::coalesce::Inflight::owner)), then 64
    /// random bits.
    fn lease_token(&self) -> String {
        format!(
            "{}{:016x}",
            self.inner.inflight.owner(),
            crate::clock::random_u64()
        )
    }

    /// A claim on computing `key` under a new token, noting `generations`.
    fn claiming<'a>(&self, key: &'a str, generations: &'a [String]) -> Claiming<'a> {
        Claiming {
            key,
            lease_key: lease_key(key),
            token: self.lease_token(),
            ttl: self.inner.config.lease_ttl,
            generations,
        }
    }

    /// `claim`, made for `token`, as a lease.
    pub(crate) fn lease(&self, key: &str, token: String, claim: Claim) -> Lease {
        match claim {
            Claim::Taken => Lease::Acquired(LeaseGuard {
                cache: self.clone(),
                key: key.to_owned(),
                token,
            }),
            Claim::Held(holder) => Lease::Held {
                mine: holder.starts_with(self.inner.inflight.owner().as_bytes()),
            },
            Claim::Refused(why) => {
                let kind = ErrorKind::Rejected;
                self.inner.metrics.failed(Op::Lease, failure(kind));
                self.fault("lease", key, &StoreError::new(kind, "lease", why));
                Lease::NotNeeded
            }
        }
    }

    /// Looks `key` up in Redis and, when it is missing, takes the lease on
    /// computing it in the same round trip (see
    /// [`Store::read_or_lease`](crate::store::Store::read_or_lease)), also
    /// noting the fill's `generations`.
    pub(crate) async fn read_or_lease(
        &self,
        key: &str,
        generations: Vec<String>,
    ) -> Result<Result<Bytes, (Lease, Generations)>, StoreError> {
        let claiming = self.claiming(key, &generations);
        let read = self.inner.store.read_or_lease(&claiming);
        // A lookup first: its faults and timings are the lookup's.
        let read = self.call(Op::Get, read).await;
        let Claiming { token, .. } = claiming;
        let (read, values) = read.inspect_err(|e| self.release_unsettled(key, &token, e))?;
        Ok(match read {
            Read::Value(value) => Ok(value),
            Read::Missing(claim) => {
                let noted = Generations {
                    keys: generations,
                    values: Some(values),
                };
                Err((self.lease(key, token, claim), noted))
            }
        })
    }

    /// Takes the cross-instance lease on computing `key` and reads the
    /// entry under it, in one round trip: the lease, the value stored now
    /// (another instance may have stored it since the lookup), and the
    /// fill's `generations`. Without a shared store no lease is needed and
    /// the value is read in process; when the backend fails, the caller
    /// computes (fail open) and stores nothing (the generations are
    /// unknown).
    pub(crate) async fn acquire_lease(
        &self,
        key: &str,
        generations: Vec<String>,
    ) -> (Lease, Option<Bytes>, Generations) {
        let store = &self.inner.store;
        let claiming = self.claiming(key, &generations);
        let claimed = store.lease_and_read(&claiming);
        let claimed = if store.is_shared() {
            self.call(Op::Lease, claimed).await
        } else {
            claimed.await
        };
        let Claiming { token, .. } = claiming;
        match claimed {
            Ok((claim, value, values)) => {
                let noted = Generations {
                    keys: generations,
                    values: Some(values),
                };
                let lease = if store.is_shared() {
                    self.lease(key, token, claim)
                } else {
                    Lease::NotNeeded
                };
                (lease, value, noted)
            }
            Err(e) => {
                self.fault("lease", key, &e);
                self.release_unsettled(key, &token, &e);
                // Redis answered but refused (a full Redis refuses the
                // lease's write): the generations can still be read, and
                // the fill still tries to store (and says why it cannot).
                // Otherwise they are unknown, and the fill stores nothing
                // rather than wait for a second failing call.
                let noted = if e.kind() == ErrorKind::Rejected {
                    self.note(generations).await
                } else {
                    Generations {
                        keys: generations,
                        values: None,
                    }
                };
                (Lease::NotNeeded, None, noted)
            }
        }
    }

    /// After a claim under `token` on the lease of `key` failed with
    /// `error`: when Redis may still carry it out (the call timed out, or
    /// the connection went while it was on the wire), the lease may be
    /// taken with nobody to release it, and for its whole life other
    /// instances would wait for an entry nobody computes and skip their
    /// refreshes. Released in the background; the release checks the
    /// token, so it frees nothing of another holder's. Sent after the
    /// claim on the same connection (one slow call), it runs after it. A
    /// claim stranded on a connection the store has since replaced (after
    /// timeouts in a row, see `crate::store::health`) may still land after
    /// the release, and then lives out its `lease_ttl`.
    fn release_unsettled(&self, key: &str, token: &str, error: &StoreError) {
        if matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::Unavailable) {
            self.release_in_background(key.to_owned(), token.to_owned());
        }
    }

    /// Releases a lease in the background: the response does not wait for
    /// it. Called when a [`LeaseGuard`] is dropped, so a panicking or
    /// cancelled leader releases its lease too.
    fn release_in_background(&self, key: String, token: String) {
        let cache = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // A release that fails (a timed-out call under load) is
                // tried again, as long as the lease lives: left in place,
                // it would hold off every refresh and make other
                // instances' requests wait for an entry nobody computes.
                // The release checks the token, so a late repeat frees
                // nothing of another holder's.
                let lease = lease_key(&key);
                // Each failure is a fault (counted; logged at its rate).
                cache
                    .call_until(
                        Op::Release,
                        cache.inner.config.lease_ttl,
                        || cache.inner.store.release_lease(&lease, &token),
                        |e| cache.fault("release", &key, e),
                    )
                    .await;
            });
        }
    }

    /// Polls for the fresh entry another instance is computing, until
    /// `wait` has passed. Returns it once it is there; an entry that is
    /// not fresh (an expired one kept for revalidation or
    /// `stale-if-error`, or undecodable) is not what is awaited. `None` at
    /// once when the lease is gone and no fresh entry came (the leader
    /// stored nothing: an error status, `Set-Cookie`, a refusal, a
    /// cancelled or panicked handler), or when the wait ran out or the
    /// backend failed: the caller then computes the entry itself.
    pub(crate) async fn wait_for_entry(
        &self,
        key: &str,
        wait: Duration,
    ) -> Option<(Prepared, Bytes)> {
        let backoff = Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(50),
        };
        let lease = lease_key(key);
        let lease = lease.as_str();
        retry(backoff, Some(deadline_after(wait)), || async move {
            match self
                .call(Op::Get, self.inner.store.entry_or_lease(key, lease))
                .await
            {
                Ok((value, held)) => match value.and_then(fresh) {
                    Some(found) => Step::Done(Some(found)),
                    None if held => Step::Again,
                    None => {
                        tracing::debug!(
                            "route cache: the lease ended without a fresh entry; computing"
                        );
                        Step::Done(None)
                    }
                },
                // The backend is failing: nothing will show up in time.
                Err(_) => Step::Done(None),
            }
        })
        .await
        .flatten()
    }
}

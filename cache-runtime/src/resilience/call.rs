//! Guarded backend calls: every request-path call to a shared backend goes
//! through [`RouteCache::call`] (circuit breaker, then the timeout), and
//! every fault it reports through [`RouteCache::fault`] (counted by the
//! rate-limited log).

use crate::cache::RouteCache;
use crate::error::{ErrorKind, StoreError};
use crate::observe::{failure, Op};
use crate::resilience::breaker::{Admission, Breaker};
use crate::resilience::retry::bounded;
use std::future::Future;

impl RouteCache {
    /// `fut`, a call of `op` to the backend: skipped while the circuit is
    /// open, bounded by the timeout, counted by the breaker, timed, and
    /// counted when it fails. The in-process store is called directly (it
    /// cannot hang or go away).
    pub(crate) async fn call<T>(
        &self,
        op: Op,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.inner.disabled.is_some() {
            return Err(StoreError::bare(
                ErrorKind::Unavailable,
                "the cache is disabled",
            ));
        }
        if !self.inner.store.is_shared() {
            return fut.await;
        }
        let admission = self.inner.breaker.admit();
        if admission == Admission::Reject {
            self.inner
                .metrics
                .failed(op, failure(ErrorKind::CircuitOpen));
            return Err(StoreError::bare(ErrorKind::CircuitOpen, "backend call"));
        }
        // If this future is dropped mid-call, the probe is handed back.
        struct ProbeGuard<'a> {
            breaker: &'a Breaker,
            admission: Admission,
            recorded: bool,
        }
        impl Drop for ProbeGuard<'_> {
            fn drop(&mut self) {
                if !self.recorded {
                    self.breaker.abandon(self.admission);
                }
            }
        }
        let mut outcome = ProbeGuard {
            breaker: &self.inner.breaker,
            admission,
            recorded: false,
        };
        let started = std::time::Instant::now();
        let result = bounded(self.inner.config.timeout, "backend call", fut).await;
        if let crate::store::Store::Redis(redis) = &self.inner.store {
            redis.observe(&result);
        }
        self.inner.metrics.called(op, started.elapsed());
        match &result {
            Err(e) if e.is_unavailable() => self.inner.breaker.failure(admission),
            _ => self.inner.breaker.success(admission),
        }
        outcome.recorded = true;
        if let Err(e) = &result {
            self.inner.metrics.failed(op, failure(e.kind()));
        }
        result
    }

    /// How logs and spans name `key`: 64 bits of its MAC under the key
    /// secret, never the key (whose query string, custom value or
    /// credential digest a log must not carry).
    pub(crate) fn key_name(&self, key: &str) -> String {
        self.inner.config.key_secret.short(key)
    }

    /// Logs a backend fault (rate-limited); the request is served
    /// uncached. While the circuit is open, only its opening was logged.
    pub(crate) fn fault(&self, op: &'static str, key: &str, error: &StoreError) {
        if error.kind() == ErrorKind::CircuitOpen {
            return;
        }
        if let Some(suppressed) = self.inner.faults.admit() {
            tracing::warn!(
                backend = %self.backend(),
                op,
                key_hash = %self.key_name(key),
                kind = %error.kind(),
                error = %error,
                suppressed,
                "route cache backend fault; serving uncached"
            );
        }
    }
}

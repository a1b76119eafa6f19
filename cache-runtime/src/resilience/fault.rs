//! Rate-limited logging of backend faults, so that a dead Redis produces a
//! steady trickle of warnings rather than one line per request (also used
//! for shadow mode's divergence lines).

use crate::clock::MonoClock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Logs the first fault at once, then at most one line per `interval`, each
/// saying how many faults it stands for.
#[derive(Debug)]
pub(crate) struct FaultLog {
    interval_ms: u64,
    clock: MonoClock,
    last_logged_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl FaultLog {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            clock: MonoClock::new(),
            last_logged_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Records a fault; returns how many earlier faults went unlogged when
    /// this one should be logged, `None` when it should be suppressed.
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = self.clock.now_ms();
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < self.interval_ms {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if self
            .last_logged_ms
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            // Another thread is logging this interval's line.
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn first_fault_logs_then_suppresses_within_interval() {
        let log = FaultLog::new(Duration::from_secs(3600));
        assert_eq!(log.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(log.admit(), None);
        }
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert_eq!(log.admit(), Some(5));
    }
}

//! A circuit breaker in front of the backend: after repeated failures it
//! opens, and calls fail at once (requests go straight to the handler)
//! until a cool-down has passed; then one probe call is let through, and
//! its outcome closes or re-opens the circuit.

use crate::clock::MonoClock;
use crate::observe::names as metric;
use crate::observe::{Circuit, Tally};
use metrics::Gauge;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown_ms: u64,
    clock: MonoClock,
    failures: AtomicU32,
    /// 0 while closed; otherwise when the cool-down ends (ms on the monotonic clock, so that a wall clock stepped back cannot keep it open).
    open_until_ms: AtomicU64,
    probing: AtomicBool,
    pub(crate) metrics: BreakerMetrics,
}

/// Whether a call may go to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: call as usual.
    Call,
    /// Half-open: this call is the probe.
    Probe,
    /// Open: fail at once.
    Reject,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown_ms: u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX),
            clock: MonoClock::new(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            metrics: BreakerMetrics::register(),
        }
    }

    /// Counts a transition to `to`; the gauge shows the state as it is
    /// now (a concurrent transition may already have moved it on).
    fn moved(&self, to: Circuit) {
        self.metrics.moved(to, self.state());
    }

    /// The state now: open until the cool-down has passed and a probe is
    /// let through.
    pub(crate) fn state(&self) -> BreakerState {
        if self.open_until_ms.load(Ordering::Acquire) == 0 {
            BreakerState::Closed
        } else if self.probing.load(Ordering::Acquire) {
            BreakerState::HalfOpen
        } else {
            BreakerState::Open
        }
    }

    pub(crate) fn admit(&self) -> Admission {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return Admission::Call;
        }
        if self.clock.now_ms() < until {
            return Admission::Reject;
        }
        if self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if self.open_until_ms.load(Ordering::Acquire) == 0 {
                // Closed by another call meanwhile: no probe needed.
                self.probing.store(false, Ordering::Release);
                return Admission::Call;
            }
            self.moved(Circuit::HalfOpen);
            Admission::Probe
        } else {
            Admission::Reject
        }
    }

    /// The backend answered (even with an error reply: it is up).
    pub(crate) fn success(&self, admission: Admission) {
        self.failures.store(0, Ordering::Relaxed);
        if admission == Admission::Probe || self.open_until_ms.load(Ordering::Acquire) != 0 {
            if self.open_until_ms.swap(0, Ordering::AcqRel) != 0 {
                self.moved(Circuit::Closed);
                tracing::info!("route cache: backend answers again; circuit closed");
            }
            self.probing.store(false, Ordering::Release);
        }
    }

    /// A probe ended without an outcome (its request was dropped): let the
    /// next call probe instead, so the circuit cannot stay open for good.
    pub(crate) fn abandon(&self, admission: Admission) {
        if admission == Admission::Probe {
            self.probing.store(false, Ordering::Release);
            // Back to waiting for a probe, unless a call closed it meanwhile.
            if self.open_until_ms.load(Ordering::Acquire) != 0 {
                self.moved(Circuit::Open);
            }
        }
    }

    /// The backend was unreachable or too slow.
    pub(crate) fn failure(&self, admission: Admission) {
        if admission == Admission::Probe {
            self.open_until_ms.store(
                self.clock.now_ms().saturating_add(self.cooldown_ms),
                Ordering::Release,
            );
            self.probing.store(false, Ordering::Release);
            self.moved(Circuit::Open);
            tracing::debug!("route cache: probe failed; circuit open again");
            return;
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures >= self.threshold
            && self
                .open_until_ms
                .compare_exchange(
                    0,
                    self.clock.now_ms().saturating_add(self.cooldown_ms),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            self.moved(Circuit::Open);
            tracing::warn!(
                failures,
                cooldown_ms = self.cooldown_ms,
                "route cache: backend failing; circuit open, serving uncached without calling it"
            );
        }
    }
}

/// A circuit breaker's state (only a shared backend has one that moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go to the backend.
    Closed,
    /// One probe call is in flight after the cool-down.
    HalfOpen,
    /// Calls fail at once until the cool-down has passed.
    Open,
}

/// The circuit breaker's transitions and state.
#[derive(Debug)]
pub(crate) struct BreakerMetrics {
    transitions: [Tally; Circuit::ALL.len()],
    state: Gauge,
}

impl BreakerMetrics {
    pub(crate) fn register() -> Self {
        Self {
            transitions: Circuit::ALL.map(|to| {
                Tally::new(metrics::counter!(metric::BREAKER_TRANSITIONS, "to" => to.as_str()))
            }),
            state: metrics::gauge!(metric::BREAKER_STATE),
        }
    }

    /// The circuit moved to `to`, and is `now` in `state`.
    pub(crate) fn moved(&self, to: Circuit, state: BreakerState) {
        self.transitions[to as usize].add(1);
        let value = match state {
            BreakerState::Closed => Circuit::Closed,
            BreakerState::HalfOpen => Circuit::HalfOpen,
            BreakerState::Open => Circuit::Open,
        };
        self.state.set(f64::from(value as u8));
    }

    pub(crate) fn transitions(&self, to: Circuit) -> u64 {
        self.transitions[to as usize].get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_after_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert_eq!(b.admit(), Admission::Call);
            b.failure(Admission::Call);
        }
        assert_eq!(b.admit(), Admission::Call);
        b.failure(Admission::Call);
        assert_eq!(b.admit(), Admission::Reject, "open after 3 failures");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit(), Admission::Probe, "one probe after the cool-down");
        assert_eq!(b.admit(), Admission::Reject, "only one probe at a time");
        b.failure(Admission::Probe);
        assert_eq!(b.admit(), Admission::Reject, "a failed probe re-opens");
        std::thread::sleep(Duration::from_millis(40));
        let probe = b.admit();
        assert_eq!(probe, Admission::Probe);
        b.success(probe);
        assert_eq!(b.admit(), Admission::Call, "a good probe closes");
        assert_eq!(b.state(), BreakerState::Closed);
        let moved = |to| b.metrics.transitions(to);
        assert_eq!(
            (
                moved(Circuit::Open),
                moved(Circuit::HalfOpen),
                moved(Circuit::Closed)
            ),
            (2, 2, 1),
            "opened, probed and failed, probed and closed"
        );
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = Breaker::new(1, Duration::from_millis(10));
        b.failure(Admission::Call);
        std::thread::sleep(Duration::from_millis(20));
        let probe = b.admit();
        assert_eq!(probe, Admission::Probe);
        b.abandon(probe); // the request was cancelled mid-call
        assert_eq!(b.admit(), Admission::Probe);
    }

    /// The cool-down is measured on the monotonic clock, never the wall
    /// clock: Tokio's paused clock moves while the wall clock stands still
    /// (on the wall clock, an hour's cool-down would still be running; and
    /// a wall clock stepped back could keep the circuit open for good).
    #[tokio::test(start_paused = true)]
    async fn the_cooldown_runs_on_the_monotonic_clock() {
        let b = Breaker::new(1, Duration::from_secs(3600));
        b.failure(Admission::Call);
        assert_eq!(b.admit(), Admission::Reject);
        tokio::time::advance(Duration::from_secs(3599)).await;
        assert_eq!(b.admit(), Admission::Reject, "still cooling down");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            b.admit(),
            Admission::Probe,
            "the cool-down has passed on the monotonic clock"
        );
    }

    #[test]
    fn successes_reset_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.failure(Admission::Call);
        b.success(Admission::Call);
        b.failure(Admission::Call);
        assert_eq!(b.admit(), Admission::Call);
    }
}

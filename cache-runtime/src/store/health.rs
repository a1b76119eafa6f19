//! Telling a dead connection from a slow call. A connection whose peer
//! vanished without a reset (a lost VM, a partition, a failover that
//! isolates the old master) stays open: every call times out, and nothing
//! replaces it until the kernel gives up. Two defences:
//!
//! - TCP keepalive and `TCP_USER_TIMEOUT` on every Redis socket
//!   ([`TcpOptions`]): the kernel closes a connection whose peer stopped
//!   acknowledging, idle or busy.
//! - [`Health`]: calls that time out in a row, `DEFAULT_DEAD_AFTER_TIMEOUTS`
//!   of them or for longer than `DEFAULT_DEAD_AFTER`, mark the
//!   connection dead, and the store replaces it (behind Sentinel, asks the
//!   sentinels for the master again).
//!
//! Worst case, a half-open connection is replaced, with calls going on,
//! after `min(timeouts × timeout, window + timeout)` (defaults: 3 × 200 ms
//! = 600 ms), then a connection attempt (`connect_timeout`); with no calls
//! at all, the kernel closes it after the keepalive idle time plus the
//! user timeout (10 s + 10 s).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::{
    DEFAULT_DEAD_AFTER, DEFAULT_DEAD_AFTER_TIMEOUTS, DEFAULT_TCP_KEEPALIVE,
    DEFAULT_TCP_USER_TIMEOUT,
};

/// The socket options of every Redis connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpOptions {
    pub(crate) keepalive: Duration,
    pub(crate) user_timeout: Duration,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            keepalive: DEFAULT_TCP_KEEPALIVE,
            user_timeout: DEFAULT_TCP_USER_TIMEOUT,
        }
    }
}

impl TcpOptions {
    /// Keepalive probes after `keepalive` idle, every third of it, the
    /// user timeout, and `TCP_NODELAY`, which the client leaves off. With
    /// Nagle's algorithm on, a command written while another's bytes are
    /// unacknowledged waits for that acknowledgement; on a multiplexed
    /// connection to a Redis one hop away, concurrent requests then wait
    /// for each other's round trips (measured with `bench/roundtrips.sh`:
    /// back-to-back cold misses took 81 ms instead of 68 ms with 10 ms
    /// each way).
    pub(crate) fn settings(self) -> redis::io::tcp::TcpSettings {
        use redis::io::tcp::socket2::TcpKeepalive;
        let interval = (self.keepalive / 3).max(Duration::from_secs(1));
        let keepalive = TcpKeepalive::new()
            .with_time(self.keepalive)
            .with_interval(interval)
            .with_retries(3);
        let settings = redis::io::tcp::TcpSettings::default()
            .set_nodelay(true)
            .set_keepalive(keepalive);
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        let settings = settings.set_user_timeout(self.user_timeout);
        settings
    }
}

/// When a streak of timed-out calls means the connection is dead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadAfter {
    pub(crate) timeouts: u32,
    pub(crate) window: Duration,
}

impl Default for DeadAfter {
    fn default() -> Self {
        Self {
            timeouts: DEFAULT_DEAD_AFTER_TIMEOUTS,
            window: DEFAULT_DEAD_AFTER,
        }
    }
}

/// The current streak of timed-out calls on a connection.
#[derive(Debug)]
pub(crate) struct Health {
    rule: DeadAfter,
    timeouts: AtomicU32,
    /// When the streak's first timeout came (ms since the epoch).
    since_ms: AtomicU64,
}

impl Health {
    pub(crate) fn new(rule: DeadAfter) -> Self {
        Self {
            rule,
            timeouts: AtomicU32::new(0),
            since_ms: AtomicU64::new(0),
        }
    }

    /// A call answered: the streak ends. One relaxed load when there is no
    /// streak, so the hit path pays next to nothing.
    pub(crate) fn answered(&self) {
        if self.timeouts.load(Ordering::Relaxed) != 0 {
            self.timeouts.store(0, Ordering::Relaxed);
        }
    }

    /// A call timed out at `now_ms`. `Some(streak)`, to one caller, when
    /// the connection is now to be treated as dead: how many calls in a
    /// row timed out, and for how long. The next streak starts afresh (a
    /// replacement that is dead too is replaced in turn).
    pub(crate) fn timed_out(&self, now_ms: u64) -> Option<(u32, Duration)> {
        let count = self.timeouts.fetch_add(1, Ordering::AcqRel) + 1;
        if count == 1 {
            self.since_ms.store(now_ms, Ordering::Release);
        }
        let since = self.since_ms.load(Ordering::Acquire);
        let lasted = Duration::from_millis(now_ms.saturating_sub(since));
        let dead = count >= self.rule.timeouts.max(1) || (count > 1 && lasted >= self.rule.window);
        // One caller claims the streak (another that counted meanwhile
        // sees a longer one and claims that).
        let claimed = dead
            && self
                .timeouts
                .compare_exchange(count, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        claimed.then_some((count, lasted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_of_timeouts_marks_the_connection_dead_once() {
        let health = Health::new(DeadAfter {
            timeouts: 3,
            window: Duration::from_secs(2),
        });
        assert_eq!(health.timed_out(1_000), None);
        health.answered(); // the streak ends
        assert_eq!(health.timed_out(2_000), None);
        assert_eq!(health.timed_out(2_100), None);
        assert_eq!(
            health.timed_out(2_200),
            Some((3, Duration::from_millis(200)))
        );
        // A new streak on the replacement.
        assert_eq!(health.timed_out(2_300), None);
        health.answered();
        assert_eq!(health.timed_out(9_000), None);
        // Two timeouts far apart, with nothing answered between them.
        assert_eq!(
            health.timed_out(11_500),
            Some((2, Duration::from_millis(2_500)))
        );
    }
}

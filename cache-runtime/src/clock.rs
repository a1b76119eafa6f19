//! The wall clock, a monotonic clock for intervals, and random ids.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A monotonic clock in milliseconds, counted from its creation and never
/// 0: for intervals only. Unlike [`now_ms`], a wall clock stepped back or
/// forward does not move it. It is the runtime's clock, so Tokio's paused
/// test clock moves it too.
#[derive(Debug)]
pub(crate) struct MonoClock {
    anchor: tokio::time::Instant,
}

impl MonoClock {
    pub(crate) fn new() -> Self {
        Self {
            anchor: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.anchor);
        u64::try_from(elapsed.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
}

/// 64 random bits (from the standard library's randomly keyed hasher).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(now_ms());
    hasher.finish()
}

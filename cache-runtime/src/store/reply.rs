//! How Redis errors map to the cache's error kinds.

use super::StoreError;
use crate::error::ErrorKind;

pub(super) fn invalid(what: &'static str, e: redis::RedisError) -> StoreError {
    StoreError::new(ErrorKind::InvalidConfig, what, e)
}

/// An error reply (`READONLY`, `OOM`, …) means Redis is up and refusing;
/// a timeout is one; anything else (I/O, a protocol error) means it is
/// unavailable.
pub(super) fn fault(e: redis::RedisError) -> StoreError {
    let wrong_credentials = e.kind() == redis::ErrorKind::AuthenticationFailed
        || e.code().is_some_and(|c| c == "WRONGPASS" || c == "NOAUTH");
    let kind = if wrong_credentials {
        ErrorKind::Unauthorized
    } else if e.code().is_some()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
        )
    {
        // An error reply, also one the client has no name for (`OOM` in a
        // pipeline): Redis answered.
        ErrorKind::Rejected
    } else if e.is_timeout() {
        ErrorKind::TimedOut
    } else {
        ErrorKind::Unavailable
    };
    StoreError::new(kind, "redis command", e)
}

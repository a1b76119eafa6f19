//! Error types: what a backend call ([`StoreError`]) and creating a cache
//! ([`CacheError`]) can fail with. Both carry a kind to match on and the
//! underlying error as their `source()`; neither is meant to be compared
//! by its text.

use std::{error::Error as StdError, fmt};

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong in a backend call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend could not be reached: connection refused or lost, not
    /// connected yet, garbage on the wire. Counts towards opening the
    /// circuit breaker.
    Unavailable,
    /// The backend did not answer within the cache's timeout. Counts
    /// towards opening the circuit breaker.
    TimedOut,
    /// The circuit breaker is open: the backend was not called.
    CircuitOpen,
    /// The backend answered with an error (a read-only replica, out of
    /// memory, a script error, …): it is up, so the circuit stays closed.
    Rejected,
    /// The backend refused the credentials (wrong password, unknown ACL
    /// user): a configuration error, reported at start-up.
    Unauthorized,
    /// The backend's configuration is unusable (an invalid URL).
    InvalidConfig,
}

impl ErrorKind {
    /// A short, stable name: `unavailable`, `timed-out`, `circuit-open`,
    /// `rejected`, `unauthorized` or `invalid-config`.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::TimedOut => "timed-out",
            Self::CircuitOpen => "circuit-open",
            Self::Rejected => "rejected",
            Self::Unauthorized => "unauthorized",
            Self::InvalidConfig => "invalid-config",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend failure: a [`kind`](Self::kind), what the cache was doing,
/// and the underlying error (for Redis, the `redis::RedisError`) as its
/// [`source`](StdError::source).
#[derive(Debug)]
pub struct StoreError(Box<Inner>);

/// Boxed, so that a `Result` carrying a `StoreError` stays as small as the
/// value it would otherwise hold (backend calls sit on the hit path).
#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    context: &'static str,
    source: Option<Source>,
}

impl StoreError {
    /// An error of `kind` while doing `context` (a short description such
    /// as `"redis command"`), caused by `source`.
    pub(crate) fn new(kind: ErrorKind, context: &'static str, source: impl Into<Source>) -> Self {
        Self(Box::new(Inner {
            kind,
            context,
            source: Some(source.into()),
        }))
    }

    /// An error of `kind` with no underlying error.
    pub(crate) fn bare(kind: ErrorKind, context: &'static str) -> Self {
        Self(Box::new(Inner {
            kind,
            context,
            source: None,
        }))
    }

    /// The call timed out.
    pub(crate) fn timed_out(context: &'static str) -> Self {
        Self::bare(ErrorKind::TimedOut, context)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Whether the backend was unreachable or too slow (rather than
    /// refusing, or not called): the failures the circuit breaker counts.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Unavailable | ErrorKind::TimedOut)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.0.kind {
            ErrorKind::Unavailable => "backend unavailable",
            ErrorKind::TimedOut => "backend timed out",
            ErrorKind::CircuitOpen => "circuit open, backend not called",
            ErrorKind::Rejected => "backend refused",
            ErrorKind::Unauthorized => "backend refused the credentials",
            ErrorKind::InvalidConfig => "invalid backend configuration",
        };
        write!(f, "{what} ({})", self.0.context)?;
        if let Some(source) = &self.0.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// An error creating a cache with [`RouteCacheBuilder::build`](crate::RouteCacheBuilder::build).
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend could not be set up (for example an invalid Redis URL);
    /// the [`StoreError`] is the source.
    Backend(StoreError),
    /// A setting is invalid.
    InvalidSetting {
        /// The builder method's name, such as `"prefix"`.
        setting: &'static str,
        /// What the setting must be.
        rule: &'static str,
    },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend(_) => f.write_str("the cache backend could not be set up"),
            Self::InvalidSetting { setting, rule } => {
                write!(f, "invalid cache setting `{setting}`: {rule}")
            }
        }
    }
}

impl StdError for CacheError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Backend(e) => Some(e),
            Self::InvalidSetting { .. } => None,
        }
    }
}

/// `e` and its sources, joined by `: `.
pub(crate) fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        let more = source.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_sources_are_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = StoreError::new(ErrorKind::Unavailable, "redis command", io);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_unavailable());
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("refused")
        );
        let open = StoreError::bare(ErrorKind::CircuitOpen, "get");
        assert!(!open.is_unavailable(), "an open circuit is no new failure");
        assert!(open.source().is_none());
        let built = CacheError::Backend(e);
        assert!(built.source().is_some());
    }
}

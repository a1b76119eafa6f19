//! Storage backends behind one small trait.
//!
//! [`CacheStore`] is what the cache needs from a backend: fetch one value,
//! store one value with a time to live, delete one value. The built-in
//! backends are [`RedisStore`] (standalone Redis through a multiplexed,
//! self-reconnecting `ConnectionManager`) and [`MemoryStore`] (in process).
//! Timeouts and fault handling are applied by [`RouteCache`](crate::RouteCache)
//! around every call, so a backend only reports what happened.

mod memory;
mod redis;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

use bytes::Bytes;
use std::{fmt, future::Future, time::Duration};

/// A key-value backend holding encoded [`Entry`](crate::entry::Entry) values.
pub trait CacheStore: Send + Sync + 'static {
    /// Fetches the value stored under `key`, or `None` when there is none
    /// (or it has expired).
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;

    /// Stores `value` under `key`, replacing any previous value, to expire
    /// after `ttl` (whole seconds; at least one).
    fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the value stored under `key`, if any.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A backend failure: a connection, protocol or server error.
#[derive(Debug)]
#[non_exhaustive]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// Wraps a backend's error message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// The backend a [`RouteCache`](crate::RouteCache) dispatches to, without
/// boxing a future on the hit path.
#[derive(Clone)]
pub(crate) enum Store {
    Redis(RedisStore),
    Memory(MemoryStore),
}

impl Store {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Memory(_) => "embedded",
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self {
            Self::Redis(s) => s.get(key).await,
            Self::Memory(s) => s.get(key).await,
        }
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        match self {
            Self::Redis(s) => s.set(key, value, ttl).await,
            Self::Memory(s) => s.set(key, value, ttl).await,
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Self::Redis(s) => s.delete(key).await,
            Self::Memory(s) => s.delete(key).await,
        }
    }
}

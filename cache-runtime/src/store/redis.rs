use super::{CacheStore, StoreError};
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::{fmt, time::Duration};

/// Standalone Redis through a redis-rs [`ConnectionManager`]: one multiplexed
/// connection shared by all clones, re-established in the background after a
/// disconnect. Cloning is cheap.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ConnectionManager's Debug may show connection details; keep
        // credentials out of logs entirely.
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Creates a store for `url` (`redis://[user:password@]host:port[/db]`).
    ///
    /// The connection is opened lazily by the first command, so an
    /// unreachable Redis at start-up does not stop the application; only an
    /// invalid URL is an error. `connect_timeout` bounds each connection
    /// attempt; commands are bounded by the cache that uses the store. Must
    /// be called inside a Tokio runtime.
    pub fn open(url: &str, connect_timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::rejected(format!("invalid Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            // No per-command timer here: the cache bounds every call with its
            // own timeout, and one timer per command is enough.
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            StoreError::rejected(format!("cannot create Redis connection manager: {e}"))
        })?;
        Ok(Self { conn })
    }

    /// Wraps an existing connection manager.
    pub fn from_manager(conn: ConnectionManager) -> Self {
        Self { conn }
    }
}

/// An error reply (`READONLY`, `OOM`, …) means Redis is up and refusing;
/// anything else (I/O, timeout, a protocol error) means it is unavailable.
fn fault(e: &redis::RedisError) -> StoreError {
    if e.code().is_some() {
        StoreError::rejected(format!("redis: {e}"))
    } else {
        StoreError::unavailable(format!("redis: {e}"))
    }
}

impl CacheStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut conn = self.conn.clone();
        let value: Result<Option<Vec<u8>>, _> =
            redis::cmd("GET").arg(key).query_async(&mut conn).await;
        match value {
            Ok(value) => Ok(value.map(Bytes::from)),
            // Something that is not a string sits under our key: a value we
            // cannot decode, so a miss that the next SET replaces.
            Err(e) if e.code() == Some("WRONGTYPE") => Ok(Some(Bytes::new())),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // One command: value and expiry are written atomically.
        redis::cmd("SET")
            .arg(key)
            .arg(value.as_ref())
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .exec_async(&mut conn)
            .await
            .map_err(|e| fault(&e))
    }

    async fn try_lease(
        &self,
        lease_key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(lease_key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .query_async(&mut conn)
            .await
            .map_err(|e| fault(&e))?;
        Ok(reply.is_some())
    }

    async fn release_lease(&self, lease_key: &str, token: &str) -> Result<(), StoreError> {
        // Only the owner deletes: a lease that expired and was taken by
        // another instance is left alone.
        const COMPARE_AND_DELETE: &str =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
        let mut conn = self.conn.clone();
        redis::cmd("EVAL")
            .arg(COMPARE_AND_DELETE)
            .arg(1)
            .arg(lease_key)
            .arg(token)
            .exec_async(&mut conn)
            .await
            .map_err(|e| fault(&e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("UNLINK")
            .arg(key)
            .exec_async(&mut conn)
            .await
            .map_err(|e| fault(&e))
    }
}

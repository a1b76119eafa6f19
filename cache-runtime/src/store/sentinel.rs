//! Redis behind Sentinel: the master is found through the sentinels, and
//! found again when it stops answering as one (connection lost, refused,
//! or `READONLY` from a demoted master). Until a master is known, commands
//! fail at once and the cache serves uncached, as for any fault.

use super::StoreError;
use crate::error::ErrorKind;
use crate::retry::{connect_in_background, Backoff};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, RwLock,
};
use std::time::Duration;

pub(super) struct LazySentinel {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    /// The master's connection, once found; never held across an await.
    master: RwLock<Option<ConnectionManager>>,
    resolving: AtomicBool,
    connect_timeout: Duration,
}

impl LazySentinel {
    pub(super) fn new(
        urls: &[String],
        master_name: &str,
        connect_timeout: Duration,
        node: redis::sentinel::SentinelNodeConnectionInfo,
    ) -> Result<Arc<Self>, StoreError> {
        if urls.is_empty() || master_name.is_empty() {
            return Err(StoreError::bare(
                ErrorKind::InvalidConfig,
                "Sentinel needs at least one sentinel URL and the master's name",
            ));
        }
        let client = SentinelClient::build(
            urls.to_vec(),
            String::from(master_name),
            Some(node),
            SentinelServerType::Master,
        )
        .map_err(|e| StoreError::new(ErrorKind::InvalidConfig, "Redis Sentinel URLs", e))?;
        Ok(Arc::new(Self {
            sentinels: tokio::sync::Mutex::new(client),
            master: RwLock::new(None),
            resolving: AtomicBool::new(false),
            connect_timeout,
        }))
    }

    /// The master's connection, or `None` while it is being found (which
    /// the first call starts).
    pub(super) fn get(self: &Arc<Self>) -> Option<ConnectionManager> {
        let current = self.master.read().ok().and_then(|m| m.clone());
        if current.is_none() {
            self.resolve_in_background();
        }
        current
    }

    /// After an error that may mean the master moved: forget it and ask
    /// the sentinels again.
    pub(super) fn check(self: &Arc<Self>, e: &redis::RedisError) {
        let moved = e.code() == Some("READONLY")
            || e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error();
        if moved {
            self.forget();
        }
    }

    /// Forgets the master's connection (it moved, or is dead) and asks the
    /// sentinels again.
    pub(super) fn forget(self: &Arc<Self>) {
        if let Ok(mut master) = self.master.write() {
            *master = None;
        }
        self.resolve_in_background();
    }

    fn resolve_in_background(self: &Arc<Self>) {
        if self.resolving.swap(true, Ordering::AcqRel) {
            return;
        }
        let backoff = Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(500),
        };
        let message = "route cache: no Redis master from the sentinels yet";
        let weak = Arc::downgrade(self);
        connect_in_background(
            &self.resolving,
            weak,
            backoff,
            message,
            |this: Arc<Self>| async move {
                let manager = this.resolve().await?;
                if let Ok(mut master) = this.master.write() {
                    *master = Some(manager);
                }
                this.resolving.store(false, Ordering::Release);
                Ok::<(), redis::RedisError>(())
            },
        );
    }

    async fn resolve(&self) -> redis::RedisResult<ConnectionManager> {
        let client = {
            let mut sentinels = self.sentinels.lock().await;
            tokio::time::timeout(self.connect_timeout, sentinels.async_get_client())
                .await
                .map_err(|_| {
                    redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "asking the sentinels timed out",
                    ))
                })??
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None)
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_with_config(client, config).await?;
        tracing::info!("route cache: connected to the Redis master the sentinels name");
        Ok(manager)
    }
}

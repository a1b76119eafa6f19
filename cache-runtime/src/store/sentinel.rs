//! Redis behind Sentinel: the master is found through the sentinels, and
//! found again when it stops answering as one (connection lost, refused,
//! or `READONLY` from a demoted master). Until a master is known, commands
//! fail at once and the cache serves uncached, as for any fault.

use crate::resilience::retry::{connect_in_background, Backoff};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, PoisonError, RwLock,
};
use std::time::Duration;

pub(super) struct LazySentinel {
    sentinels: tokio::sync::Mutex<SentinelClient>,
    /// The master's connection, once found; never held across an await.
    master: RwLock<Option<ConnectionManager>>,
    /// The master's client (for the L1's subscriber) and address, as last
    /// found; kept when the connection is forgotten.
    found: RwLock<Option<(redis::Client, String)>>,
    /// How many times the sentinels named a different master: the L1's
    /// subscriber follows it, and flushes across the switch.
    switches: AtomicU64,
    resolving: AtomicBool,
    connect_timeout: Duration,
    master_name: String,
    /// A connection to a sentinel, to ask which master it names now.
    checker: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl LazySentinel {
    pub(super) fn new(
        client: SentinelClient,
        master_name: &str,
        connect_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            sentinels: tokio::sync::Mutex::new(client),
            master: RwLock::new(None),
            found: RwLock::new(None),
            switches: AtomicU64::new(0),
            resolving: AtomicBool::new(false),
            connect_timeout,
            master_name: master_name.to_owned(),
            checker: tokio::sync::Mutex::new(None),
        })
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

    /// The master's client, once found (starting the search otherwise), for
    /// a subscriber connection: pub/sub messages published on the master
    /// reach every node of its replication group.
    pub(super) fn subscriber(self: &Arc<Self>) -> Option<redis::Client> {
        // A master is known (its search starts otherwise).
        self.get()?;
        let found = self.found.read().unwrap_or_else(PoisonError::into_inner);
        found.as_ref().map(|(client, _)| client.clone())
    }

    /// How many times a different master was found.
    pub(super) fn switches(&self) -> u64 {
        self.switches.load(Ordering::Acquire)
    }

    /// Asks a sentinel which master it names now. One other than the
    /// connection's (a failover this instance's calls have not run into:
    /// a demoted master still answers reads) is forgotten, so the
    /// connection and the L1's subscriber move to the new one.
    pub(super) async fn check_master(self: &Arc<Self>) {
        let known = {
            let found = self.found.read().unwrap_or_else(PoisonError::into_inner);
            found.as_ref().map(|(_, address)| address.clone())
        };
        let Some(known) = known else { return };
        let Ok(mut checker) = self.checker.try_lock() else {
            return; // a check is under way
        };
        let named = tokio::time::timeout(self.connect_timeout, async {
            if checker.is_none() {
                let client = self
                    .sentinels
                    .lock()
                    .await
                    .async_get_sentinel_client()
                    .await?;
                *checker = Some(client.get_multiplexed_async_connection().await?);
            }
            let Some(conn) = checker.as_mut() else {
                return Ok(None);
            };
            let (host, port): (String, u16) = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&self.master_name)
                .query_async(conn)
                .await?;
            Ok::<_, redis::RedisError>(Some(format!("{host}:{port}")))
        })
        .await;
        match named {
            Ok(Ok(Some(named))) if named != known => {
                tracing::info!("route cache: the sentinels name another master; moving to it");
                self.forget();
            }
            Ok(Ok(_)) => {}
            // Intent again, on a new connection, next time.
            Ok(Err(_)) | Err(_) => *checker = None,
        }
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
                let (manager, client) = this.resolve().await?;
                let address = client.get_connection_info().addr().to_string();
                {
                    let mut found = this.found.write().unwrap_or_else(PoisonError::into_inner);
                    let moved = found.as_ref().is_some_and(|(_, was)| *was != address);
                    *found = Some((client, address));
                    if moved {
                        this.switches.fetch_add(1, Ordering::AcqRel);
                    }
                }
                if let Ok(mut master) = this.master.write() {
                    *master = Some(manager);
                }
                this.resolving.store(false, Ordering::Release);
                Ok::<(), redis::RedisError>(())
            },
        );
    }

    async fn resolve(&self) -> redis::RedisResult<(ConnectionManager, redis::Client)> {
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
        let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
        tracing::info!("route cache: connected to the Redis master the sentinels name");
        Ok((manager, client))
    }
}

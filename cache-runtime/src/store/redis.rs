use super::cluster::{masters, LazyCluster};
use super::health::{DeadAfter, Health};
use super::reply::{fault, invalid};
use super::secrets::Secrets;
use super::sentinel::LazySentinel;
use super::{CacheStore, StoreError};
use crate::error::ErrorKind;
use crate::resilience::retry::{deadline_after, retry, Backoff, Step};
use bytes::Bytes;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisFuture, Value};
use std::sync::{Arc, PoisonError, RwLock};
use std::{fmt, time::Duration};

/// Redis, standalone or Redis Cluster, through redis-rs.
///
/// - Standalone: a [`ConnectionManager`], one multiplexed connection shared
///   by all clones and re-established in the background after a
///   disconnect, and replaced by a new one when calls on it keep timing
///   out (a half-open connection; see `super::health`).
/// - Cluster: a `cluster-async` [`ClusterConnection`] (MOVED/ASK
///   redirections, slot map refresh, reconnection), opened in the
///   background by a task that retries until the cluster answers; until
///   then commands fail at once (the cache serves uncached) instead of
///   waiting on connection attempts.
///
/// Cloning is cheap.
#[derive(Clone)]
pub(crate) struct RedisStore {
    conn: Conn,
    /// Where to open a subscriber connection (the L1 coherence channel):
    /// the server itself, or each cluster seed node in turn.
    nodes: Arc<[redis::Client]>,
    /// The streak of timed-out calls that marks the connection dead.
    health: Arc<Health>,
}

#[derive(Clone)]
enum Conn {
    Single(Arc<Single>),
    Cluster(Arc<LazyCluster>),
    Sentinel(Arc<LazySentinel>),
}

/// A connection to whichever deployment the store talks to.
pub(super) enum Live {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Live {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Connection details may carry credentials; keep them out of logs.
        let kind = match self.conn {
            Conn::Single(_) => "standalone",
            Conn::Cluster(_) => "cluster",
            Conn::Sentinel(_) => "sentinel",
        };
        f.debug_struct("RedisStore")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// A standalone server's connection, replaceable when it is found dead.
pub(super) struct Single {
    current: RwLock<ConnectionManager>,
    client: redis::Client,
    config: ConnectionManagerConfig,
}

impl Single {
    fn new(client: redis::Client, config: ConnectionManagerConfig) -> Result<Self, StoreError> {
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| invalid("Redis connection manager", e))?;
        Ok(Self {
            current: RwLock::new(manager),
            client,
            config,
        })
    }

    fn get(&self) -> ConnectionManager {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A new connection in place of the current one (connected by its
    /// first command); the old one closes once its calls are done.
    fn replace(&self) {
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(fresh) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
            }
            Err(e) => {
                tracing::warn!(error = %e, "route cache: could not replace the Redis connection")
            }
        }
    }
}

impl RedisStore {
    /// Creates a store for standalone Redis at `url`
    /// (`redis://[user:password@]host:port[/db]`).
    ///
    /// The connection is opened lazily by the first command, so an
    /// unreachable Redis at start-up does not stop the application; only an
    /// invalid URL is an error. `connect_timeout` bounds each connection
    /// attempt; commands are bounded by the cache that uses the store. Must
    /// be called inside a Tokio runtime.
    pub(crate) fn open(
        url: &str,
        connect_timeout: Duration,
        tls: &Secrets,
        dead_after: DeadAfter,
    ) -> Result<Self, StoreError> {
        let client = tls.client(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            // No per-command timer here: the cache bounds every call with its
            // own timeout, and one timer per command is enough.
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(1);
        let single = Single::new(client.clone(), config)?;
        Ok(Self {
            conn: Conn::Single(Arc::new(single)),
            nodes: Arc::from([client]),
            health: Arc::new(Health::new(dead_after)),
        })
    }

    /// Creates a store for the Redis Cluster reachable through `seeds` (one
    /// or more node URLs; the rest of the cluster is discovered from them).
    ///
    /// Like [`RedisStore::open`], nothing is connected yet: the first command
    /// starts a background task that connects (retrying with backoff), and
    /// commands fail at once until it has. Only invalid URLs are an error.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn open_cluster<S: AsRef<str>>(
        seeds: &[S],
        connect_timeout: Duration,
        tls: &Secrets,
        dead_after: DeadAfter,
    ) -> Result<Self, StoreError> {
        if seeds.is_empty() {
            return Err(StoreError::bare(
                ErrorKind::InvalidConfig,
                "no Redis Cluster node URL given",
            ));
        }
        let nodes = seeds
            .iter()
            .map(|url| tls.client(url.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let builder = tls.cluster(ClusterClient::builder(
            nodes.iter().map(|c| c.get_connection_info().clone()),
        ));
        let client = builder
            .connection_timeout(connect_timeout)
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()
            .map_err(|e| invalid("Redis Cluster configuration", e))?;
        Ok(Self {
            conn: Conn::Cluster(Arc::new(LazyCluster::new(client))),
            nodes: Arc::from(nodes),
            health: Arc::new(Health::new(dead_after)),
        })
    }

    /// The ACL user name the URL gives, if any (never the password).
    pub(crate) fn user(&self) -> Option<&str> {
        self.nodes
            .first()
            .and_then(|client| client.get_connection_info().redis_settings().username())
    }

    /// Whether this store talks to a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    pub(super) async fn live(&self) -> Result<Live, StoreError> {
        match &self.conn {
            Conn::Single(c) => Ok(Live::Single(c.get())),
            Conn::Sentinel(s) => s.get().map(Live::Single).ok_or_else(|| {
                StoreError::bare(
                    ErrorKind::Unavailable,
                    "no Redis master known yet (asking the sentinels)",
                )
            }),
            Conn::Cluster(lazy) => lazy.get().map(Live::Cluster).ok_or_else(|| {
                StoreError::bare(
                    ErrorKind::Unavailable,
                    "Redis Cluster connection not established yet",
                )
            }),
        }
    }

    /// Waits up to `limit` for the connection (a cluster connects in the
    /// background); `true` once it is there.
    pub(crate) async fn ready(&self, limit: Duration) -> bool {
        if matches!(self.conn, Conn::Single(_)) {
            return true;
        }
        let connected = || async move {
            if self.live().await.is_ok() {
                Step::Done(())
            } else {
                Step::Again
            }
        };
        let pause = Backoff::constant(Duration::from_millis(10));
        retry(pause, Some(deadline_after(limit)), connected)
            .await
            .is_some()
    }

    pub(super) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let mut conn = self.live().await?;
        cmd.query_async(&mut conn).await.map_err(|e| self.failed(e))
    }

    /// `e` as a fault; behind Sentinel, an error that may mean the master
    /// moved has the sentinels asked again.
    pub(super) fn failed(&self, e: redis::RedisError) -> StoreError {
        if let Conn::Sentinel(sentinel) = &self.conn {
            sentinel.check(&e);
        }
        fault(e)
    }

    /// Creates a store for the Redis master that the sentinels at `urls`
    /// know as `master_name`. Like [`RedisStore::open_cluster`], nothing is
    /// connected yet; the master is found (and found again after a
    /// failover) in the background, and commands fail at once meanwhile.
    pub(crate) fn open_sentinel(
        urls: &[String],
        master_name: &str,
        master_tls: Option<bool>,
        connect_timeout: Duration,
        secrets: &Secrets,
        dead_after: DeadAfter,
    ) -> Result<Self, StoreError> {
        let client = secrets.sentinel(urls, master_name, master_tls)?;
        Ok(Self {
            conn: Conn::Sentinel(LazySentinel::new(client, master_name, connect_timeout)),
            // The L1's subscriber follows the master (`subscriber_nodes`).
            nodes: Arc::from([]),
            health: Arc::new(Health::new(dead_after)),
        })
    }

    /// Notes how a call on the connection ended. A streak of timeouts
    /// marks the connection dead: it is replaced (behind Sentinel, the
    /// sentinels are asked for the master again; on a cluster, the whole
    /// cluster connection is opened anew), and that is logged.
    pub(crate) fn observe<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.health.answered(),
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                let Some((calls, lasted)) = self.health.timed_out(crate::clock::now_ms()) else {
                    return;
                };
                tracing::warn!(
                    calls,
                    lasted_ms = u64::try_from(lasted.as_millis()).unwrap_or(u64::MAX),
                    "route cache: calls to Redis keep timing out; the connection is treated as \
                     dead (half-open) and replaced"
                );
                match &self.conn {
                    Conn::Single(single) => single.replace(),
                    Conn::Sentinel(sentinel) => sentinel.forget(),
                    Conn::Cluster(cluster) => cluster.replace(),
                }
            }
            Err(_) => {}
        }
    }

    /// Whether this store finds its master through Sentinel.
    pub(crate) fn is_sentinel(&self) -> bool {
        matches!(self.conn, Conn::Sentinel(_))
    }

    /// The clients a subscriber connection may be opened with, in order:
    /// the server, the cluster's seed nodes, or the master the sentinels
    /// name now (none while it is being found).
    pub(crate) fn subscriber_nodes(&self) -> Vec<redis::Client> {
        match &self.conn {
            Conn::Sentinel(sentinel) => sentinel.subscriber().into_iter().collect(),
            _ => self.nodes.to_vec(),
        }
    }

    /// Behind Sentinel, asks which master the sentinels name now, and moves
    /// to it if it changed (see `LazySentinel::check_master`); nothing
    /// otherwise.
    pub(crate) async fn check_master(&self) {
        if let Conn::Sentinel(sentinel) = &self.conn {
            sentinel.check_master().await;
        }
    }

    /// How many times the sentinels named a different master (0 for other
    /// deployments): a subscriber made before a switch follows the old one.
    pub(crate) fn master_switches(&self) -> u64 {
        match &self.conn {
            Conn::Sentinel(sentinel) => sentinel.switches(),
            _ => 0,
        }
    }

    /// Deletes `keys` (`UNLINK`: freed in the background by Redis; in a
    /// cluster, split by slot across the masters owning them).
    pub(crate) async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(keys);
        self.query::<()>(&cmd).await
    }

    /// Deletes every key matching the glob `pattern`, with `SCAN` and
    /// `UNLINK` in batches, on the server or on every master of the
    /// cluster. Returns how many keys were deleted.
    pub(crate) async fn delete_matching(&self, pattern: &str) -> Result<usize, StoreError> {
        Ok(self.scan_matching(pattern, true).await?.0)
    }

    /// Every key matching the glob `pattern` (keys that are not UTF-8,
    /// which this cache never writes, are left out).
    pub(crate) async fn keys_matching(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.scan_matching(pattern, false).await?.1)
    }

    /// `SCAN`s for `pattern` on the server or every master of the cluster:
    /// with `delete`, each batch is unlinked as it is found and only
    /// counted; otherwise the keys are returned.
    async fn scan_matching(
        &self,
        pattern: &str,
        delete: bool,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let mut conn = self.live().await?;
        let masters = match &mut conn {
            Live::Single(_) => vec![None],
            Live::Cluster(c) => masters(c).await?.into_iter().map(Some).collect(),
        };
        let (mut count, mut found) = (0, Vec::new());
        for master in masters {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000);
                // Bytes: a foreign key that is not UTF-8 must not stop the scan.
                let (next, keys): (u64, Vec<Vec<u8>>) = on_node(&mut conn, master, &scan).await?;
                count += keys.len();
                if delete && !keys.is_empty() {
                    // Routed by key: in a cluster, split by slot.
                    let mut unlink = redis::cmd("UNLINK");
                    unlink.arg(&keys);
                    unlink.query_async::<()>(&mut conn).await.map_err(fault)?;
                } else if !delete {
                    found.extend(keys.into_iter().filter_map(|k| String::from_utf8(k).ok()));
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        Ok((count, found))
    }

    /// The string values under `keys`, in order, in one round trip: one
    /// `MGET` on a server; on a cluster, one `GET` per key, concurrently.
    /// A multi-slot `MGET` is routed by the client's slot map alone, and a
    /// map taken while the cluster was still forming would fail it until
    /// something refreshed the map; a `GET` is redirected (`MOVED`), which
    /// refreshes it.
    pub(crate) async fn strings(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.is_cluster() {
            let reads = keys.iter().map(|key| async move {
                let mut conn = self.live().await?;
                let value: Result<Option<Vec<u8>>, _> =
                    redis::cmd("GET").arg(key).query_async(&mut conn).await;
                match value {
                    Ok(value) => Ok(value),
                    // Not a string: read as missing, as `MGET` reads it.
                    Err(e) if e.code() == Some("WRONGTYPE") => Ok(None),
                    Err(e) => Err(self.failed(e)),
                }
            });
            return futures_util::future::join_all(reads)
                .await
                .into_iter()
                .collect();
        }
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys);
        self.query(&cmd).await
    }

    /// The values under `keys` (see `strings`); a key holding no string
    /// reads as missing.
    pub(crate) async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let values = self.strings(keys).await?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    /// Replaces the value under `key` with `new` if it is still `old`,
    /// keeping its expiry; whether it did.
    pub(crate) async fn replace(
        &self,
        key: &str,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool, StoreError> {
        const COMPARE_AND_SET: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
               redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(COMPARE_AND_SET).arg(1).arg(key).arg(old).arg(new);
        Ok(self.query::<i64>(&cmd).await? == 1)
    }

    /// Publishes `message` on `channel` (in a cluster, Redis forwards it to
    /// every node).
    pub(crate) async fn publish(&self, channel: &str, message: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(message);
        self.query::<()>(&cmd).await
    }
}

/// Runs `cmd` on the master owning slot `master` of a cluster, or on the
/// standalone server.
async fn on_node<T: FromRedisValue>(
    conn: &mut Live,
    master: Option<u16>,
    cmd: &Cmd,
) -> Result<T, StoreError> {
    match (conn, master) {
        (Live::Cluster(c), Some(slot)) => {
            // By slot rather than address: redis-rs resolves it with its own
            // slot map (hostnames, fresh masters after a failover).
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
                slot,
                SlotAddr::Master,
            )));
            let value = c.route_command(cmd.clone(), routing).await.map_err(fault)?;
            redis::from_redis_value(value).map_err(|e| fault(e.into()))
        }
        (conn, _) => cmd.query_async(conn).await.map_err(fault),
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl CacheStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut conn = self.live().await?;
        // Sized for the key up front: growing the buffer of `cmd("GET")`
        // for it reallocates on every hit.
        let mut get = redis::Cmd::with_capacity(2, 3 + key.len());
        get.arg("GET").arg(key);
        let value: Result<Option<Vec<u8>>, _> = get.query_async(&mut conn).await;
        match value {
            Ok(value) => Ok(value.map(Bytes::from)),
            // Something that is not a string sits under our key: a value we
            // cannot decode, so a miss that the next SET replaces.
            Err(e) if e.code() == Some("WRONGTYPE") => Ok(Some(Bytes::new())),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        // One command: value and expiry are written atomically.
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(value.as_ref())
            .arg("EX")
            .arg(ttl.as_secs().max(1));
        self.query::<()>(&cmd).await
    }

    async fn release_lease(&self, lease_key: &str, token: &str) -> Result<(), StoreError> {
        // Only the owner deletes: a lease that expired and was taken by
        // another instance is left alone.
        const COMPARE_AND_DELETE: &str =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(COMPARE_AND_DELETE).arg(1).arg(lease_key).arg(token);
        self.query::<()>(&cmd).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(key);
        self.query::<()>(&cmd).await
    }
}

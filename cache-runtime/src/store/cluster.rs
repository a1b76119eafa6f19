//! Redis Cluster: the connection opened in the background
//! ([`LazyCluster`]), and the masters a scan must visit ([`masters`]).

use super::reply::fault;
use super::StoreError;
use crate::error::ErrorKind;
use crate::resilience::retry::{connect_in_background, Backoff};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::Value;
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, PoisonError, RwLock,
    },
    time::Duration,
};

/// A cluster connection, established by a background task that retries
/// until the cluster answers; until then [`LazyCluster::get`] returns
/// `None` at once.
pub(super) struct LazyCluster {
    client: ClusterClient,
    conn: Arc<RwLock<Option<ClusterConnection>>>,
    /// A connector is running; cleared once it has connected, so that a
    /// replacement starts another.
    connecting: Arc<AtomicBool>,
}

impl LazyCluster {
    pub(super) fn new(client: ClusterClient) -> Self {
        Self {
            client,
            conn: Arc::new(RwLock::new(None)),
            connecting: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The connection, or `None` while the background task is still
    /// establishing it (which the first call starts).
    pub(super) fn get(&self) -> Option<ClusterConnection> {
        let current = self.conn.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = current.as_ref() {
            return Some(conn.clone());
        }
        drop(current);
        if !self.connecting.swap(true, Ordering::AcqRel) {
            self.spawn_connector();
        }
        None
    }

    /// Drops the connection (found dead) and opens a new one in the
    /// background; commands fail at once meanwhile.
    pub(super) fn replace(&self) {
        *self.conn.write().unwrap_or_else(PoisonError::into_inner) = None;
        if !self.connecting.swap(true, Ordering::AcqRel) {
            self.spawn_connector();
        }
    }

    /// Connects in the background (see [`connect_in_background`]) until
    /// it succeeds or the store is dropped.
    fn spawn_connector(&self) {
        let client = self.client.clone();
        let backoff = Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_secs(1),
        };
        let message = "route cache: Redis Cluster not reachable yet";
        let cell = Arc::downgrade(&self.conn);
        let connecting = Arc::clone(&self.connecting);
        connect_in_background(&self.connecting, cell, backoff, message, move |cell| {
            let (client, connecting) = (client.clone(), Arc::clone(&connecting));
            async move {
                let conn = client.get_async_connection().await?;
                *cell.write().unwrap_or_else(PoisonError::into_inner) = Some(conn);
                connecting.store(false, Ordering::Release);
                Ok::<(), redis::RedisError>(())
            }
        });
    }
}

/// One slot of each master of the cluster, from `CLUSTER SLOTS`; an error
/// unless the masters together serve all 16384 slots (mid-failover, a scan
/// would otherwise skip a shard and still report success).
pub(super) async fn masters(conn: &mut ClusterConnection) -> Result<Vec<u16>, StoreError> {
    let slots: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(conn)
        .await
        .map_err(fault)?;
    slot_owners(&slots).ok_or_else(|| {
        StoreError::bare(
            ErrorKind::Unavailable,
            "the cluster's masters do not cover every slot; retry later",
        )
    })
}

/// `[[start, end, [host, port, id, …], replicas…], …]` → one slot per
/// distinct master, if the ranges cover every slot.
fn slot_owners(reply: &Value) -> Option<Vec<u16>> {
    let Value::Array(ranges) = reply else {
        return None;
    };
    let int = |v: &Value| match v {
        Value::Int(i) => u16::try_from(*i).ok(),
        _ => None,
    };
    let mut covered = 0u32;
    let mut masters: Vec<(Vec<u8>, u16)> = Vec::new();
    for range in ranges {
        let Value::Array(fields) = range else {
            return None;
        };
        let (start, end) = (int(fields.first()?)?, int(fields.get(1)?)?);
        let Value::Array(node) = fields.get(2)? else {
            return None;
        };
        // Identify the master by its address fields as sent.
        let id = format!("{:?}{:?}", node.first(), node.get(1)).into_bytes();
        covered += u32::from(end.checked_sub(start)?) + 1;
        if !masters.iter().any(|(m, _)| *m == id) {
            masters.push((id, start));
        }
    }
    (covered == 16384).then(|| masters.into_iter().map(|(_, slot)| slot).collect())
}

#[cfg(test)]
mod tests {
    use super::slot_owners;
    use redis::Value;

    fn range(start: i64, end: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(start),
            Value::Int(end),
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
            ]),
        ])
    }

    #[test]
    fn one_slot_per_master_and_only_with_full_coverage() {
        let full = Value::Array(vec![
            range(0, 5460, "10.0.0.1", 7000),
            range(5461, 10922, "10.0.0.2", 7000),
            range(10923, 16000, "10.0.0.3", 7000),
            range(16001, 16383, "10.0.0.1", 7000),
        ]);
        assert_eq!(slot_owners(&full), Some(vec![0, 5461, 10923]));
        let gap = Value::Array(vec![
            range(0, 5460, "10.0.0.1", 7000),
            range(10923, 16383, "10.0.0.3", 7000),
        ]);
        assert_eq!(slot_owners(&gap), None, "a shard without a master");
        assert_eq!(slot_owners(&Value::Nil), None);
    }
}

//! The optional in-process first tier (L1) in front of Redis, kept coherent
//! across instances through a Redis pub/sub channel.
//!
//! Every write or invalidation through a [`RouteCache`](crate::RouteCache)
//! on Redis publishes the affected keys on `<prefix>:#l1`; every instance
//! with an L1 subscribes and drops them. The L1 is used only while its
//! subscription is known to work: each instance publishes a heartbeat every
//! `heartbeat`, and a subscription that has heard nothing (neither a
//! heartbeat nor anything else) for three heartbeats, or that was closed
//! (Redis restarted, connection killed), turns the L1 off and flushes it
//! until a new subscription is in place.
//!
//! The staleness bound is therefore: the pub/sub delivery delay (well under
//! a millisecond on a LAN) while the channel works, and at most three
//! heartbeats when it silently stops delivering. An L1 entry also never
//! outlives its Redis entry (nor `l1_max_ttl`, when set).

use crate::fault::FaultLog;
use crate::store::{MemoryStore, RedisStore, Scope};
use bytes::Bytes;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Weak,
    },
    time::Duration,
};

/// The first tier.
pub(crate) struct L1 {
    store: MemoryStore,
    /// On while the invalidation channel is known to work.
    live: AtomicBool,
    /// Bumped by every drop, so a fill that raced an invalidation is undone.
    epoch: AtomicU64,
    max_ttl: Option<Duration>,
}

impl L1 {
    pub(crate) fn new(capacity_bytes: u64, max_ttl: Option<Duration>) -> Self {
        Self {
            store: MemoryStore::new(capacity_bytes),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            max_ttl,
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        if !self.is_live() {
            return None;
        }
        self.store.peek(key)
    }

    /// The epoch to pass to [`L1::fill`] for a value about to be read from
    /// Redis.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value`, read from Redis after `seen` was taken, for `life`,
    /// unless an invalidation arrived meanwhile.
    pub(crate) fn fill(&self, key: &str, value: Bytes, life: Duration, seen: u64) {
        if !self.is_live() || self.epoch() != seen {
            return;
        }
        self.put(key, value, life);
        if self.epoch() != seen {
            // An invalidation slipped in between the check and the insert.
            self.store.forget(key);
        }
    }

    /// Keeps a value this instance has just written to Redis.
    pub(crate) fn put(&self, key: &str, value: Bytes, life: Duration) {
        if !self.is_live() {
            return;
        }
        let life = self.max_ttl.map_or(life, |max| life.min(max));
        if !life.is_zero() {
            self.store.put(key, value, life);
        }
    }

    pub(crate) fn drop_keys<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.store.forget(key);
        }
    }

    pub(crate) fn drop_scope(&self, scope: &Scope) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.store.delete_where(|k| scope.matches(k));
    }

    /// Turns the tier on (after a fresh subscription) or off (the channel is
    /// lost); either way nothing from before is kept.
    fn set_live(&self, live: bool) {
        self.live.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.store.clear();
        self.live.store(live, Ordering::Release);
    }
}

/// A message on the invalidation channel: `<origin> <kind>[ <payload>]`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    Heartbeat,
    /// Keys, separated by newlines (keys never contain one).
    Keys(&'a str),
    Scope(Scope),
}

impl Message<'_> {
    pub(crate) fn encode(&self, origin: u64) -> String {
        match self {
            Self::Heartbeat => format!("{origin:016x} h"),
            Self::Keys(keys) => format!("{origin:016x} k {keys}"),
            Self::Scope(scope) => format!(
                "{origin:016x} {} {}",
                if scope.namespace { 'n' } else { 's' },
                scope.prefix
            ),
        }
    }

    /// The message and its origin; `None` for anything else.
    pub(crate) fn decode(text: &str) -> Option<(u64, Message<'_>)> {
        let (origin, rest) = text.split_once(' ')?;
        let origin = u64::from_str_radix(origin, 16).ok()?;
        let (kind, payload) = rest.split_once(' ').unwrap_or((rest, ""));
        let message = match kind {
            "h" => Message::Heartbeat,
            "k" => Message::Keys(payload),
            "s" | "n" => Message::Scope(Scope {
                prefix: payload.to_owned(),
                namespace: kind == "n",
            }),
            _ => return None,
        };
        Some((origin, message))
    }
}

/// What the subscriber task needs, held weakly so that it ends with the
/// cache.
pub(crate) struct Channel {
    pub(crate) name: String,
    pub(crate) origin: u64,
    pub(crate) heartbeat: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) publish_timeout: Duration,
}

/// Runs until `l1` is dropped: subscribes, turns the tier on, applies
/// invalidations, publishes heartbeats, and turns the tier off (flushed)
/// whenever the subscription is lost or goes silent.
pub(crate) fn spawn_subscriber(l1: &Arc<L1>, store: RedisStore, channel: Channel) {
    let weak = Arc::downgrade(l1);
    tokio::spawn(async move {
        let faults = FaultLog::new(Duration::from_secs(10));
        let mut backoff = Duration::from_millis(50);
        loop {
            let Ended::Lost { reason, connected } = subscribe(&weak, &store, &channel).await else {
                return;
            };
            let Some(l1) = weak.upgrade() else { return };
            l1.set_live(false);
            drop(l1);
            if connected {
                backoff = Duration::from_millis(50);
            }
            if let Some(suppressed) = faults.admit() {
                tracing::warn!(
                    reason,
                    suppressed,
                    "route cache: L1 invalidation channel lost; L1 flushed and off until it is back"
                );
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    });
}

enum Ended {
    CacheDropped,
    /// Could not subscribe (`connected: false`), or lost the channel.
    Lost {
        reason: String,
        connected: bool,
    },
}

async fn subscribe(weak: &Weak<L1>, store: &RedisStore, channel: &Channel) -> Ended {
    use futures_util::StreamExt;

    let mut pubsub = None;
    let mut last_error = String::from("no node to subscribe on");
    for client in store.subscriber_nodes() {
        match tokio::time::timeout(channel.connect_timeout, client.get_async_pubsub()).await {
            Ok(Ok(mut ps)) => match ps.subscribe(&channel.name).await {
                Ok(()) => {
                    pubsub = Some(ps);
                    break;
                }
                Err(e) => last_error = e.to_string(),
            },
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = "connect timed out".to_owned(),
        }
    }
    let Some(pubsub) = pubsub else {
        return Ended::Lost {
            reason: last_error,
            connected: false,
        };
    };
    match weak.upgrade() {
        Some(l1) => l1.set_live(true),
        None => return Ended::CacheDropped,
    }
    tracing::debug!(channel = channel.name, "route cache: L1 on");
    let mut messages = pubsub.into_on_message();
    let mut last_heard = tokio::time::Instant::now();
    let mut next_beat = last_heard;
    let silence = channel.heartbeat * 3;
    let reason = loop {
        let now = tokio::time::Instant::now();
        if now >= next_beat {
            next_beat = now + channel.heartbeat;
            let (store, message, limit) = (
                store.clone(),
                Message::Heartbeat.encode(channel.origin),
                channel.publish_timeout,
            );
            let name = channel.name.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(limit, store.publish(&name, &message)).await;
            });
        }
        if now.duration_since(last_heard) > silence {
            break format!("nothing heard for {} ms", silence.as_millis());
        }
        let wait = next_beat.saturating_duration_since(now);
        let message = match tokio::time::timeout(wait, messages.next()).await {
            Ok(Some(message)) => message,
            Ok(None) => break "subscription closed".to_owned(),
            Err(_) => continue,
        };
        last_heard = tokio::time::Instant::now();
        let Some(l1) = weak.upgrade() else {
            return Ended::CacheDropped;
        };
        let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) else {
            continue;
        };
        match Message::decode(text) {
            Some((origin, _)) if origin == channel.origin => {} // applied already
            Some((_, Message::Keys(keys))) => l1.drop_keys(keys.split('\n')),
            Some((_, Message::Scope(scope))) => l1.drop_scope(&scope),
            Some((_, Message::Heartbeat)) | None => {}
        }
    };
    Ended::Lost {
        reason,
        connected: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let origin = 0x0123_4567_89ab_cdef;
        for message in [
            Message::Heartbeat,
            Message::Keys("rc:a::b:GET:/x\nrc:a::b:GET:/y"),
            Message::Scope(Scope {
                prefix: "rc:ns:".to_owned(),
                namespace: true,
            }),
            Message::Scope(Scope {
                prefix: "rc:a::b:GET:".to_owned(),
                namespace: false,
            }),
        ] {
            let text = message.encode(origin);
            assert_eq!(Message::decode(&text), Some((origin, message)), "{text}");
        }
        assert_eq!(Message::decode("garbage"), None);
        assert_eq!(Message::decode("zz k x"), None);
    }

    #[test]
    fn a_fill_racing_an_invalidation_is_undone_and_off_means_empty() {
        let l1 = L1::new(1 << 20, None);
        l1.fill("k", Bytes::from_static(b"v"), Duration::from_secs(60), 0);
        assert_eq!(l1.get("k"), None, "off: nothing kept, nothing served");
        l1.set_live(true);
        let seen = l1.epoch();
        l1.drop_keys(["other"]);
        l1.fill("k", Bytes::from_static(b"v"), Duration::from_secs(60), seen);
        assert_eq!(l1.get("k"), None, "filled across an invalidation");
        l1.fill(
            "k",
            Bytes::from_static(b"v"),
            Duration::from_secs(60),
            l1.epoch(),
        );
        assert_eq!(l1.get("k").as_deref(), Some(&b"v"[..]));
        l1.set_live(false);
        l1.set_live(true);
        assert_eq!(l1.get("k"), None, "a lost channel flushes");
    }
}

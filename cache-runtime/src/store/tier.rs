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
//! An instance ignores its own messages: its writes and deletes drop the
//! keys from its L1 themselves, before they go to Redis and again once
//! they are done, so a lookup that read Redis before them cannot put what
//! it read back into the L1 after them (an epoch counts the drops; a fill
//! across one keeps nothing).
//!
//! Every message carries its sender's id and a per-sender sequence number.
//! A receiver that sees a number skipped (a publish that failed or was
//! lost) and not filled in within one heartbeat flushes its L1.
//!
//! The staleness bound is therefore: the pub/sub delivery delay (well under
//! a millisecond on a LAN) while the channel works; at most three
//! heartbeats when it silently stops delivering; about two heartbeats after
//! a lost message, counted from the sender's next message. An L1 entry also
//! never outlives its Redis entry (nor `l1_max_ttl`, when set).

use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::error::ErrorKind;
use crate::observe::{Flush, StoreGauges, TierMetrics};
use crate::resilience::fault::FaultLog;
use crate::resilience::retry::{bounded, retry, Backoff, Step};
use crate::store::{MemoryStore, RedisStore, Scope, StoreError};
use bytes::Bytes;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Weak,
    },
    time::Duration,
};
use tokio::time::Instant;

/// The first tier.
pub(crate) struct L1 {
    store: MemoryStore,
    /// On while the invalidation channel is known to work.
    live: AtomicBool,
    /// Bumped by every drop, so a fill that raced an invalidation is undone.
    epoch: AtomicU64,
    max_ttl: Option<Duration>,
    pub(crate) metrics: TierMetrics,
}

impl L1 {
    pub(crate) fn new(
        capacity_bytes: u64,
        max_ttl: Option<Duration>,
        metrics: TierMetrics,
    ) -> Self {
        Self {
            store: MemoryStore::new(capacity_bytes, Arc::new(StoreGauges::register("l1"))),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            max_ttl,
            metrics,
        }
    }

    /// What the tier holds, and its evictions.
    pub(crate) fn gauges(&self) -> &StoreGauges {
        self.store.gauges()
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The entry under `key`, if the L1 holds it live at `now_ms`.
    pub(crate) fn get(&self, key: &str, now_ms: u64) -> Option<Arc<Prepared>> {
        if !self.is_live() {
            return None;
        }
        let entry = self.store.peek_prepared(key, now_ms)?.ok()?;
        self.metrics.hit();
        Some(entry)
    }

    /// The epoch to pass to [`L1::fill`] for a value about to be read from
    /// Redis.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value` (decoded: `entry`), read from Redis after `seen` was
    /// taken, for `life` (at most `l1_max_ttl`), unless an invalidation
    /// or a write ([`L1::written`]) arrived meanwhile.
    pub(crate) fn fill(
        &self,
        key: &str,
        value: Bytes,
        entry: Arc<Prepared>,
        life: Duration,
        seen: u64,
    ) {
        let life = self.max_ttl.map_or(life, |max| life.min(max));
        if !self.is_live() || self.epoch() != seen || life.is_zero() {
            return;
        }
        self.store.put_prepared(key, value, Ok(entry), life);
        if self.epoch() != seen {
            // An invalidation slipped in between the check and the insert.
            self.store.forget(key);
        }
    }

    /// After this instance's write of a key to Redis, begun when the
    /// epoch was `seen`: moves the epoch, and returns the one to
    /// [fill](L1::fill) the written value under, unless the epoch had
    /// moved meanwhile (an invalidation or another write: keep nothing).
    ///
    /// Moves the epoch either way. A read of the same key that started
    /// before the write landed may return the old value after this; its
    /// fill then finds the epoch moved and keeps nothing, where it would
    /// otherwise replace the new value with the old one (or fill the old
    /// one in), which the L1 would serve for the rest of its life: this
    /// instance ignores its own invalidation messages.
    pub(crate) fn written(&self, seen: u64) -> Option<u64> {
        let before = self.epoch.fetch_add(1, Ordering::AcqRel);
        (before == seen).then(|| before.wrapping_add(1))
    }

    /// Drops `keys`; returns the new epoch, under which a value written
    /// after the drop may be [filled](L1::fill) in.
    pub(crate) fn drop_keys<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> u64 {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        for key in keys {
            self.store.forget(key);
        }
        epoch
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
        self.metrics.set_live(live);
    }

    /// Flushes a live tier for `cause`, leaving it on (`live`) or off.
    fn flush(&self, cause: Flush, live: bool) {
        if self.is_live() {
            self.metrics.flushed(cause);
        }
        self.set_live(live);
    }
}

/// A message on the invalidation channel:
/// `<origin> <sequence> <kind>[ <payload>]`. A key message ends with the
/// line `#sent=<ms>`, the sender's wall clock (for the delivery-lag
/// histogram): no key can be that line (a prefix never holds `#`), so an
/// instance of an earlier build, which drops each line as a key, drops
/// nothing for it, and this build reads that build's messages as they
/// are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    Heartbeat,
    /// Keys, separated by newlines (keys never contain one).
    Keys(&'a str),
    Scope(Scope),
}

impl Message<'_> {
    fn encode(&self, origin: u64, seq: u64, sent_ms: u64) -> String {
        let head = format!("{origin:016x} {seq}");
        match self {
            Self::Heartbeat => format!("{head} h"),
            Self::Keys(keys) => format!("{head} k {keys}\n{SENT}{sent_ms}"),
            Self::Scope(scope) => format!(
                "{head} {} {}",
                if scope.namespace { 'n' } else { 's' },
                scope.prefix
            ),
        }
    }

    /// The message with its origin, sequence number and sending time;
    /// `None` for anything else.
    fn decode(text: &str) -> Option<(Sender, Message<'_>)> {
        let (origin, rest) = text.split_once(' ')?;
        let origin = u64::from_str_radix(origin, 16).ok()?;
        let (seq, rest) = rest.split_once(' ')?;
        let seq = seq.parse().ok()?;
        let (kind, payload) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut sent_ms = None;
        let message = match kind {
            "h" => Message::Heartbeat,
            "k" => match payload.rsplit_once('\n') {
                Some((keys, last)) if last.starts_with(SENT) => {
                    sent_ms = last[SENT.len()..].parse().ok();
                    Message::Keys(keys)
                }
                _ => Message::Keys(payload),
            },
            "s" | "n" => Message::Scope(Scope {
                prefix: payload.to_owned(),
                namespace: kind == "n",
            }),
            _ => return None,
        };
        let sender = Sender {
            origin,
            seq,
            sent_ms,
        };
        Some((sender, message))
    }
}

/// Who sent a message, its number, and when (key messages only).
#[derive(Debug, PartialEq, Eq)]
struct Sender {
    origin: u64,
    seq: u64,
    sent_ms: Option<u64>,
}

/// The last line of a key message: its sending time.
const SENT: &str = "#sent=";

/// This cache's side of the invalidation channel: its id and message
/// counter, shared by the cache (invalidations) and the subscriber task
/// (heartbeats).
pub(crate) struct Publisher {
    pub(crate) channel: String,
    pub(crate) origin: u64,
    seq: AtomicU64,
    timeout: Duration,
}

impl Publisher {
    pub(crate) fn new(channel: String, origin: u64, timeout: Duration) -> Self {
        Self {
            channel,
            origin,
            seq: AtomicU64::new(0),
            timeout,
        }
    }

    /// Publishes `message`, bounded by the timeout but outside the circuit
    /// breaker: a message is never skipped because request traffic tripped
    /// it. A failure is returned for logging; receivers detect the gap.
    pub(crate) async fn publish(
        &self,
        store: &RedisStore,
        message: &Message<'_>,
    ) -> Result<(), StoreError> {
        let text = self.prepare(message);
        bounded(self.timeout, "publish", store.publish(&self.channel, &text)).await
    }

    /// `message` with this sender's next number, to publish on
    /// [`channel`](Self::channel) (for a caller that sends it in a
    /// pipeline of its own).
    pub(crate) fn prepare(&self, message: &Message<'_>) -> String {
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        message.encode(self.origin, seq, now_ms())
    }
}

/// What the subscriber task needs.
pub(crate) struct Channel {
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) heartbeat: Duration,
    pub(crate) connect_timeout: Duration,
}

/// Sequence numbers seen from one sender.
struct Peer {
    next: u64,
    /// Numbers skipped, and since when.
    missing: Vec<(u64, Instant)>,
    last_heard: Instant,
}

/// Tracks every sender's sequence; reports a number missing for longer
/// than the grace period (lost, not just reordered).
struct Peers {
    peers: HashMap<u64, Peer>,
    /// When the subscription began, and how long after it every live
    /// sender has been heard from (its heartbeat comes at least that
    /// often).
    since: Instant,
    window: Duration,
}

impl Peers {
    fn new(since: Instant, window: Duration) -> Self {
        Self {
            peers: HashMap::new(),
            since,
            window,
        }
    }

    fn saw(&mut self, origin: u64, seq: u64, now: Instant) {
        let (since, window) = (self.since, self.window);
        let peer = self.peers.entry(origin).or_insert_with(|| {
            // A sender's numbers start at 1. One first heard with a later
            // number, well after the subscription began, sent the earlier
            // ones while it was being listened to: its first messages were
            // lost (a sender heard from right after the subscription may
            // have sent them before it). Its first message is missing since
            // the subscription began, which is past any grace.
            let late = now.saturating_duration_since(since) > window;
            let missing = if seq > 1 && late {
                vec![(seq - 1, since)]
            } else {
                Vec::new()
            };
            Peer {
                next: seq,
                missing,
                last_heard: now,
            }
        });
        peer.last_heard = now;
        if seq >= peer.next {
            // At most a bounded number of gaps are remembered; more than
            // that is a loss anyway.
            let gap = (peer.next..seq).take(1024);
            peer.missing.extend(gap.map(|s| (s, now)));
            peer.next = seq + 1;
        } else {
            peer.missing.retain(|&(s, _)| s != seq);
        }
    }

    /// Whether some message has been missing for longer than `grace`;
    /// forgets senders silent for `forget_after`.
    fn lost(&mut self, now: Instant, grace: Duration, forget_after: Duration) -> bool {
        self.peers
            .retain(|_, peer| now.saturating_duration_since(peer.last_heard) < forget_after);
        self.peers.values().any(|peer| {
            peer.missing
                .iter()
                .any(|&(_, since)| now.saturating_duration_since(since) > grace)
        })
    }

    fn clear_missing(&mut self) {
        for peer in self.peers.values_mut() {
            peer.missing.clear();
        }
    }
}

/// Runs until `l1` is dropped: subscribes, turns the tier on, applies
/// invalidations, publishes heartbeats, and turns the tier off (flushed)
/// whenever the subscription is lost or goes silent.
pub(crate) fn spawn_subscriber(l1: &Arc<L1>, store: RedisStore, channel: Channel) {
    let weak = Arc::downgrade(l1);
    tokio::spawn(async move {
        let faults = FaultLog::new(Duration::from_secs(10));
        let backoff = Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_secs(2),
        };
        let (weak, store, channel, faults) = (&weak, &store, &channel, &faults);
        retry(backoff, None, || async move {
            let ChannelEnd::Lost {
                reason,
                cause,
                connected,
            } = subscribe(weak, store, channel).await
            else {
                return Step::Done(());
            };
            let Some(l1) = weak.upgrade() else {
                return Step::Done(());
            };
            l1.flush(cause, false);
            drop(l1);
            if let Some(suppressed) = faults.admit() {
                tracing::warn!(
                    reason,
                    suppressed,
                    "route cache: L1 invalidation channel lost; L1 flushed and off until it is back"
                );
            }
            if connected {
                Step::AgainFromStart
            } else {
                Step::Again
            }
        })
        .await;
    });
}

enum ChannelEnd {
    CacheDropped,
    /// Could not subscribe (`connected: false`), or lost the channel.
    Lost {
        reason: String,
        cause: Flush,
        connected: bool,
    },
}

async fn subscribe(weak: &Weak<L1>, store: &RedisStore, channel: &Channel) -> ChannelEnd {
    use futures_util::StreamExt;

    let name = &channel.publisher.channel;
    let mut pubsub = None;
    let mut last_error = String::from("no node to subscribe on");
    // A master switch after this point ends the subscription below.
    let switches = store.master_switches();
    for client in store.subscriber_nodes() {
        let attempt = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(name).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        let attempt = async {
            attempt
                .await
                .map_err(|e| StoreError::new(ErrorKind::Unavailable, "subscribe", e))
        };
        match bounded(channel.connect_timeout, "subscribe", attempt).await {
            Ok(ps) => {
                pubsub = Some(ps);
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let Some(pubsub) = pubsub else {
        return ChannelEnd::Lost {
            reason: last_error,
            cause: Flush::SubscriptionLost,
            connected: false,
        };
    };
    match weak.upgrade() {
        Some(l1) => l1.set_live(true),
        None => return ChannelEnd::CacheDropped,
    }
    tracing::debug!(channel = name, "route cache: L1 on");
    let mut messages = pubsub.into_on_message();
    let heartbeat = channel.heartbeat;
    let silence = heartbeat.saturating_mul(3);
    let mut last_heard = Instant::now();
    let mut peers = Peers::new(last_heard, heartbeat.saturating_mul(2));
    let mut next_beat = last_heard;
    let (reason, cause) = loop {
        let now = Instant::now();
        if now >= next_beat {
            next_beat = now + heartbeat;
            let (store, publisher) = (store.clone(), Arc::clone(&channel.publisher));
            tokio::spawn(async move {
                let _ = publisher.publish(&store, &Message::Heartbeat).await;
                // Behind Sentinel: a failover is noticed within a beat.
                store.check_master().await;
            });
        }
        if now.saturating_duration_since(last_heard) > silence {
            let reason = format!("nothing heard for {} ms", silence.as_millis());
            break (reason, Flush::Silence);
        }
        if store.master_switches() != switches {
            // Entries the old master held may not have reached the new
            // one: flushed, and subscribed again on the new master.
            break (
                "the sentinels named another master".to_owned(),
                Flush::Failover,
            );
        }
        if peers.lost(now, heartbeat, silence.saturating_mul(4)) {
            let Some(l1) = weak.upgrade() else {
                return ChannelEnd::CacheDropped;
            };
            // A message was lost: whatever it invalidated may be held here.
            l1.flush(Flush::LostMessage, true);
            peers.clear_missing();
            tracing::debug!(
                channel = name,
                "route cache: invalidation message lost; L1 flushed"
            );
        }
        // Wake for the next heartbeat, the silence limit, or a message.
        let wake = next_beat.min(last_heard + silence + Duration::from_millis(1));
        let message = match tokio::time::timeout_at(wake, messages.next()).await {
            Ok(Some(message)) => message,
            Ok(None) => break ("subscription closed".to_owned(), Flush::SubscriptionLost),
            Err(_) => continue,
        };
        last_heard = Instant::now();
        let Some(l1) = weak.upgrade() else {
            return ChannelEnd::CacheDropped;
        };
        let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) else {
            continue;
        };
        let Some((sender, message)) = Message::decode(text) else {
            continue;
        };
        peers.saw(sender.origin, sender.seq, last_heard);
        if sender.origin == channel.publisher.origin {
            continue; // applied already
        }
        match message {
            Message::Keys(keys) => {
                l1.drop_keys(keys.split('\n'));
            }
            Message::Scope(scope) => l1.drop_scope(&scope),
            Message::Heartbeat => continue,
        }
        // Key invalidations only: the lag that bounds coherence.
        if let Some(sent_ms) = sender.sent_ms {
            l1.metrics.delivered(sent_ms, now_ms());
        }
    };
    ChannelEnd::Lost {
        reason,
        cause,
        connected: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_sequence_number_is_a_loss_only_once_the_grace_has_passed() {
        let t0 = Instant::now();
        let grace = Duration::from_millis(100);
        let forget = Duration::from_secs(60);
        let mut peers = Peers::new(t0, Duration::from_secs(1));
        peers.saw(7, 1, t0);
        peers.saw(7, 2, t0);
        assert!(!peers.lost(t0, grace, forget));
        // 3 skipped, then late: reordered, not lost.
        peers.saw(7, 4, t0);
        peers.saw(7, 3, t0 + Duration::from_millis(50));
        assert!(!peers.lost(t0 + Duration::from_secs(1), grace, forget));
        // 5 never comes.
        peers.saw(7, 6, t0);
        assert!(!peers.lost(t0 + Duration::from_millis(50), grace, forget));
        assert!(peers.lost(t0 + Duration::from_millis(150), grace, forget));
        peers.clear_missing();
        assert!(!peers.lost(t0 + Duration::from_millis(150), grace, forget));
        // A sender silent for long is forgotten.
        assert!(!peers.lost(t0 + Duration::from_secs(120), grace, forget));
        assert!(peers.peers.is_empty());
    }

    #[test]
    fn a_new_senders_lost_first_message_is_a_loss() {
        let t0 = Instant::now();
        let (grace, forget) = (Duration::from_millis(100), Duration::from_secs(60));
        let later = t0 + Duration::from_secs(5);
        // Right after subscribing: senders heard mid-sequence are fine.
        let mut peers = Peers::new(t0, Duration::from_secs(1));
        peers.saw(1, 900, t0 + Duration::from_millis(10));
        assert!(!peers.lost(later, grace, forget));
        // Long after: a sender's first message is 1, else 1 was lost.
        peers.saw(2, 1, later);
        peers.saw(2, 2, later);
        assert!(!peers.lost(later, grace, forget));
        peers.saw(3, 2, later);
        assert!(peers.lost(later, grace, forget), "message 1 of sender 3");
        peers.clear_missing();
        assert!(!peers.lost(later, grace, forget));
    }

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
            let text = message.encode(origin, 42, 1_700_000_000_123);
            let sent_ms = matches!(message, Message::Keys(_)).then_some(1_700_000_000_123);
            let sender = Sender {
                origin,
                seq: 42,
                sent_ms,
            };
            assert_eq!(Message::decode(&text), Some((sender, message)), "{text}");
        }
        assert_eq!(Message::decode("garbage"), None);
        assert_eq!(Message::decode("zz 1 k x"), None);
        assert_eq!(Message::decode("01 x k x"), None);
        // An earlier build's key message: no sending time, same keys.
        let (sender, message) = Message::decode("01 7 k a\nb").unwrap();
        assert_eq!((sender.sent_ms, message), (None, Message::Keys("a\nb")));
    }

    #[test]
    fn a_fill_racing_an_invalidation_is_undone_and_off_means_empty() {
        let value = crate::entry::Entry::new(
            http::StatusCode::OK,
            crate::clock::now_ms(),
            60,
            Bytes::from_static(b"v"),
        )
        .encode()
        .map(Bytes::from)
        .unwrap();
        let l1 = L1::new(1 << 20, None, TierMetrics::register());
        let fill = |seen| {
            let entry = Arc::new(Prepared::decode(value.clone()).unwrap());
            l1.fill("k", value.clone(), entry, Duration::from_secs(60), seen);
        };
        let body = |l1: &L1| {
            l1.get("k", crate::clock::now_ms())
                .map(|e| e.entry().body.clone())
        };
        fill(0);
        assert_eq!(body(&l1), None, "off: nothing kept, nothing served");
        l1.set_live(true);
        let seen = l1.epoch();
        l1.drop_keys(["other"]);
        fill(seen);
        assert_eq!(body(&l1), None, "filled across an invalidation");
        fill(l1.epoch());
        assert_eq!(body(&l1).as_deref(), Some(&b"v"[..]));
        l1.set_live(false);
        l1.set_live(true);
        assert_eq!(body(&l1), None, "a lost channel flushes");
    }

    /// A read that started before this instance's write landed, and got
    /// the old value, fills after the writer did: the old value must not
    /// replace the new one.
    #[test]
    fn a_read_from_before_a_write_never_replaces_the_written_value() {
        let encoded = |body: &'static [u8]| {
            let value = crate::entry::Entry::new(
                http::StatusCode::OK,
                crate::clock::now_ms(),
                60,
                Bytes::from_static(body),
            )
            .encode()
            .map(Bytes::from)
            .unwrap();
            let entry = Arc::new(Prepared::decode(value.clone()).unwrap());
            (value, entry)
        };
        let life = Duration::from_secs(60);
        let l1 = L1::new(1 << 20, None, TierMetrics::register());
        l1.set_live(true);
        let body = |l1: &L1| {
            l1.get("k", crate::clock::now_ms())
                .map(|e| e.entry().body.clone())
        };
        // What `RouteCache::keep_in_l1` does once a write is done.
        let keep_written = |(value, entry), seen| {
            if let Some(epoch) = l1.written(seen) {
                l1.fill("k", value, entry, life, epoch);
            }
        };
        // The writer drops the key, and a reader misses and goes to Redis.
        let written = l1.drop_keys(["k"]);
        let read = l1.epoch();
        // The write lands and is kept; the reader's old value comes back.
        keep_written(encoded(b"new"), written);
        assert_eq!(body(&l1).as_deref(), Some(&b"new"[..]));
        let (old, old_entry) = encoded(b"old");
        l1.fill("k", old, old_entry, life, read);
        assert_eq!(
            body(&l1).as_deref(),
            Some(&b"new"[..]),
            "the old value came back"
        );
        // A write with an invalidation after its start keeps nothing.
        let written = l1.drop_keys(["k"]);
        l1.drop_keys(["k"]);
        keep_written(encoded(b"newer"), written);
        assert_eq!(body(&l1), None, "kept across an invalidation");
        // Nor, with another key dropped during the write, does a read
        // from before the write fill in the old value afterwards.
        let written = l1.drop_keys(["k"]);
        l1.drop_keys(["other"]);
        let read = l1.epoch();
        keep_written(encoded(b"newest"), written);
        let (old, old_entry) = encoded(b"old");
        l1.fill("k", old, old_entry, life, read);
        assert_eq!(body(&l1), None, "the old value came back");
    }
}

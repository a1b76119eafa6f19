//! Index sets on Redis, bucketed: a small set shares a sorted set with
//! others, a large one has its own.
//!
//! A set per path and per tag, each a Redis key of its own, cost about
//! 185 bytes per member: a key's dictionary and expiry entries, its name
//! and a one-member sorted set, for the common set of one or two members
//! (measured: 1,779 bytes per 1 KB entry with one tag, against 1,408 for
//! the entry alone). Here a set lives in one of `INDEX_BUCKETS` (2¹⁴) shared
//! sorted sets ([`IndexPlace::bucket`]) while it holds at most
//! `SMALL_SET` (8) live members, each stored as `<set id><entry key>`; the
//! add that would pass that count moves the set's members to a sorted set
//! of its own ([`IndexPlace::own`], members the plain entry keys), where
//! it stays until it empties (popped) or expires. Both keys of a set share
//! a Redis Cluster slot (`{…}`), so every script here touches one slot.
//!
//! Every member is still scored by its entry's end of life and pruned
//! when expired; caps count a set's live members wherever they are. A
//! small set's members are found with `ZSCAN … MATCH <id>*` over its
//! bucket (about `entries × sets per entry / INDEX_BUCKETS` members: 120 at a
//! million entries with one tag), which Redis filters before Lua sees
//! them, so no operation walks more than a bucket or the one set it
//! names. The price is Redis time per save: 12.9 µs per `EVAL` on average
//! at 100 k entries against 10.2 with a set per key (`memory-probe`).

use super::redis::{millis, RedisStore};
use super::{Index, IndexAdd, StoreError};
pub(crate) use crate::key::IndexPlace;
use std::time::Duration;

/// The most live members a set keeps in its bucket (a macro, so that the
/// scripts' text can carry it: see `SMALL_SET` (8)).
macro_rules! small_set {
    () => {
        8
    };
}

/// The most live members a set keeps in its bucket.
#[cfg(test)]
const SMALL_SET: usize = small_set!();

/// The Lua functions the index scripts share, after `now_ms_lua`'s
/// `now`. A set is named by its bucket, its own key and its id.
/// - `small`: the set's live members in its bucket, as stored, found by
///   `ZSCAN … MATCH <id>*`, so that only they reach Lua;
/// - `look`: where the set is, whether it lists a key and how many live
///   members it has, read once for `room` and `list`;
/// - `room`: whether the set can list the key under its cap;
/// - `list`: lists the key for `life` ms, moving a set that outgrows its
///   bucket to its own key;
/// - `pop` and `members`.
macro_rules! index_lua {
    () => {
        "local function small(bucket, id) \
           local mine, seen, cursor = {}, {}, '0' \
           repeat \
             local page = redis.call('ZSCAN', bucket, cursor, 'MATCH', id .. '*', 'COUNT', 1000) \
             cursor = page[1] \
             local found = page[2] \
             for i = 1, #found, 2 do \
               local m = found[i] \
               if not seen[m] and tonumber(found[i + 1]) > now then \
                 seen[m] = true \
                 mine[#mine + 1] = m \
               end \
             end \
           until cursor == '0' \
           return mine \
         end \
         local function look(bucket, own, id, key) \
           if redis.call('EXISTS', own) == 1 then \
             return {own = true, listed = redis.call('ZSCORE', own, key), \
                     count = redis.call('ZCOUNT', own, '(' .. now, '+inf')} \
           end \
           local mine, member, listed = small(bucket, id), id .. key, false \
           for _, m in ipairs(mine) do if m == member then listed = true break end end \
           return {own = false, listed = listed, count = #mine, mine = mine} \
         end \
         local function room(set, cap) return set.listed or set.count < cap end \
         local function list(set, bucket, own, id, key, life) \
           local into, member = own, key \
           if not set.own then \
             into, member = bucket, id .. key \
             if not set.listed and set.count >= SMALL_SET then \
               for _, m in ipairs(set.mine) do \
                 local score = redis.call('ZSCORE', bucket, m) \
                 if score then \
                   redis.call('ZADD', own, score, string.sub(m, #id + 1)) \
                   redis.call('ZREM', bucket, m) \
                 end \
               end \
               local pttl = redis.call('PTTL', bucket) \
               if pttl > 0 and redis.call('PTTL', own) < pttl then \
                 redis.call('PEXPIRE', own, pttl) end \
               into, member = own, key \
             end \
           end \
           local old = redis.call('ZSCORE', into, member) \
           if not old or tonumber(old) < now + life then \
             redis.call('ZADD', into, now + life, member) end \
           redis.call('ZREMRANGEBYSCORE', into, '-inf', now) \
           if redis.call('PTTL', into) < life then redis.call('PEXPIRE', into, life) end \
         end \
         local function pop(bucket, own, id, count) \
           local out = {} \
           redis.call('ZREMRANGEBYSCORE', own, '-inf', now) \
           local popped = redis.call('ZPOPMIN', own, count) \
           for i = 1, #popped, 2 do out[#out + 1] = popped[i] end \
           if #out < count then \
             redis.call('ZREMRANGEBYSCORE', bucket, '-inf', now) \
             for _, m in ipairs(small(bucket, id)) do \
               if #out >= count then break end \
               redis.call('ZREM', bucket, m) \
               out[#out + 1] = string.sub(m, #id + 1) \
             end \
           end \
           return out \
         end \
         local function members(bucket, own, id) \
           local out = redis.call('ZRANGEBYSCORE', own, '(' .. now, '+inf') \
           for _, m in ipairs(small(bucket, id)) do out[#out + 1] = string.sub(m, #id + 1) end \
           return out \
         end "
    };
}

/// `SMALL_SET` (8) as the scripts read it.
macro_rules! small_set_lua {
    () => {
        concat!("local SMALL_SET = ", small_set!(), " ")
    };
}

/// Lists `ARGV[1]` in the set at `KEYS[1]` (bucket), `KEYS[2]` (own key),
/// id `ARGV[4]`, scored by its end of life (now + `ARGV[2]` ms, never
/// moved earlier), unless the set already holds `ARGV[3]` live members.
/// Returns 1 when listed, 0 when full. The first write is the listing,
/// so that a full Redis (`maxmemory`, checked until a script writes)
/// refuses it.
const INDEX_ADD: &str = concat!(
    now_ms_lua!(),
    small_set_lua!(),
    index_lua!(),
    "local set = look(KEYS[1], KEYS[2], ARGV[4], ARGV[1]) \
     if not room(set, tonumber(ARGV[3])) then return 0 end \
     list(set, KEYS[1], KEYS[2], ARGV[4], ARGV[1], tonumber(ARGV[2])) \
     return 1"
);

/// Removes and returns up to `ARGV[1]` live members of the set at
/// `KEYS[1]`, `KEYS[2]`, id `ARGV[2]`, after dropping expired ones.
const INDEX_POP: &str = concat!(
    now_ms_lua!(),
    small_set_lua!(),
    index_lua!(),
    "return pop(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]))"
);

/// The live members of the set at `KEYS[1]`, `KEYS[2]`, id `ARGV[1]`.
const INDEX_MEMBERS: &str = concat!(
    now_ms_lua!(),
    small_set_lua!(),
    index_lua!(),
    "return members(KEYS[1], KEYS[2], ARGV[1])"
);

impl RedisStore {
    /// Lists `member`, living `ttl` more, in the index set `index` (see
    /// [`INDEX_ADD`]) unless it is full.
    pub(crate) async fn index_add(
        &self,
        index: &Index,
        member: &str,
        ttl: Duration,
    ) -> Result<IndexAdd, StoreError> {
        let place = IndexPlace::of(&index.key);
        let mut cmd = on_set(INDEX_ADD, &place);
        cmd.arg(member)
            .arg(millis(ttl))
            .arg(index.cap)
            .arg(&place.id);
        Ok(if self.query::<i64>(&cmd).await? == 1 {
            IndexAdd::Added
        } else {
            IndexAdd::Full
        })
    }

    /// Removes and returns up to `count` live members of the index set
    /// `index`, after dropping its expired ones.
    pub(crate) async fn index_pop(
        &self,
        index: &str,
        count: usize,
    ) -> Result<Vec<String>, StoreError> {
        let place = IndexPlace::of(index);
        let mut cmd = on_set(INDEX_POP, &place);
        cmd.arg(count.max(1)).arg(&place.id);
        self.query::<Vec<String>>(&cmd).await
    }

    /// Every live member of the index set `index`, left in place.
    pub(crate) async fn index_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let place = IndexPlace::of(index);
        let mut cmd = on_set(INDEX_MEMBERS, &place);
        cmd.arg(&place.id);
        self.query::<Vec<String>>(&cmd).await
    }
}

/// `EVAL` of `script` over the set at `place`: its bucket and own key.
fn on_set(script: &str, place: &IndexPlace) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(2).arg(&place.bucket).arg(&place.own);
    cmd
}

#[cfg(test)]
mod tests {
    use super::{IndexPlace, SMALL_SET};
    use crate::key::INDEX_BUCKETS;

    #[test]
    fn the_scripts_read_the_small_set_limit() {
        assert_eq!(small_set_lua!(), format!("local SMALL_SET = {SMALL_SET} "));
    }

    #[test]
    fn a_set_has_a_bucket_and_an_own_key_in_one_slot() {
        let place = IndexPlace::of("rc:#p:/items/42");
        let tag = place
            .bucket
            .strip_prefix("rc:#i{")
            .and_then(|rest| rest.strip_suffix('}'))
            .expect("rc:#i{<bucket>}");
        assert!(u16::from_str_radix(tag, 16).unwrap() < INDEX_BUCKETS);
        assert_eq!(place.own, format!("{}:{}", place.bucket, place.id));
        assert_eq!(place.id.len(), 8);
        // The scripts find a set's members with `ZSCAN … MATCH <id>*`.
        assert!(
            place
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "no glob character: {}",
            place.id
        );
        assert_eq!(place, IndexPlace::of("rc:#p:/items/42"), "stable");
        assert_ne!(place.id, IndexPlace::of("rc:#p:/items/43").id);
        let other = IndexPlace::of("app:#t:x");
        assert!(other.bucket.starts_with("app:#i{"), "{other:?}");
    }
}

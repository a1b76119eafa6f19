//! The multi-step Redis operations of a miss, each one round trip: the
//! lookup that takes the lease when the entry is missing, the lease taken
//! with a re-read, and the fill's store pipeline; each lookup also reads
//! the fill's generations (see `crate::fill::generation`), and the store keeps
//! the entry only if they are unchanged.

use super::index::IndexPlace;
use super::redis::{millis, RedisStore};
use super::{Claim, Claiming, Generations, Index, Read, StoreError};
use bytes::Bytes;
use redis::{Cmd, FromRedisValue};
use std::time::Duration;

/// A fill's save on one server, as one script: nothing is written unless
/// every generation `KEYS[2..1+g]` still has the value noted in
/// `ARGV[5..4+g]` (an absent one reads `0`; `g` is `ARGV[4]`), and every
/// index set has room for the entry `KEYS[1]` under its cap. The sets
/// follow the generations, two keys each (bucket and own key, see
/// `super::index`) and two arguments each (id and cap), in order. Then it
/// stores `ARGV[1]` for `ARGV[2]` seconds and lists it in each set, scored
/// by its end of life (now + `ARGV[3]` ms), pruning expired members.
/// Returns 1 when stored, 0 when a generation changed, -1 when a set was
/// full. The entry and its index memberships land together or not at all.
/// The `SET` is the script's first write: Redis checks `maxmemory` only
/// until a script has written, so a full Redis refuses the whole save.
const SAVE: &str = concat!(
    now_ms_lua!(),
    small_set_lua!(),
    index_lua!(),
    "local g = tonumber(ARGV[4]) \
     for i = 1, g do \
       local v = redis.call('GET', KEYS[1 + i]) \
       if not v then v = '0' end \
       if v ~= ARGV[4 + i] then return 0 end \
     end \
     local life = tonumber(ARGV[3]) \
     local sets = {} \
     for j = 1, (#KEYS - 1 - g) / 2 do \
       local k, a = g + 2 * j, 3 + g + 2 * j \
       sets[j] = look(KEYS[k], KEYS[k + 1], ARGV[a], KEYS[1]) \
       if not room(sets[j], tonumber(ARGV[a + 1])) then return -1 end \
     end \
     redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) \
     for j, set in ipairs(sets) do \
       local k, a = g + 2 * j, 3 + g + 2 * j \
       list(set, KEYS[k], KEYS[k + 1], ARGV[a], KEYS[1], life) \
     end \
     return 1"
);

/// What became of a save on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Save {
    Stored,
    /// A generation changed since it was noted: nothing written.
    Invalidated,
    /// An index set was full: nothing written.
    Full,
}

impl RedisStore {
    /// Stores `value` under `key` for `ttl` and lists it in `indexes` in
    /// one script ([`SAVE`]), if the generations `noted` are unchanged and
    /// every set has room, then publishes `message` on its channel: one
    /// pipeline, one round trip, executed in that order by the one server
    /// (not for a cluster, whose index sets live on other nodes: there the
    /// entry must be written first).
    pub(crate) async fn save_pipelined(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        indexes: &[Index],
        message: Option<(&str, &str)>,
        noted: &Generations,
    ) -> Result<Save, StoreError> {
        let Some(values) = noted.values.as_deref() else {
            return Ok(Save::Invalidated);
        };
        let mut pipe = redis::pipe();
        let script = pipe.cmd("EVAL");
        let places: Vec<IndexPlace> = indexes.iter().map(|i| IndexPlace::of(&i.key)).collect();
        script
            .arg(SAVE)
            .arg(1 + noted.keys.len() + 2 * places.len())
            .arg(key)
            .arg(&noted.keys);
        for place in &places {
            script.arg(&place.bucket).arg(&place.own);
        }
        script
            .arg(value)
            .arg(ttl.as_secs().max(1))
            .arg(millis(ttl))
            .arg(noted.keys.len());
        for generation in values {
            script.arg(generation.to_string());
        }
        for (place, index) in places.iter().zip(indexes) {
            script.arg(&place.id).arg(index.cap);
        }
        if let Some((channel, text)) = message {
            pipe.cmd("PUBLISH").arg(channel).arg(text).ignore();
        }
        let mut conn = self.live().await?;
        let (saved,): (i64,) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(match saved {
            1 => Save::Stored,
            -1 => Save::Full,
            _ => Save::Invalidated,
        })
    }

    /// Deletes `keys`, then publishes `text` on `channel`: one pipeline,
    /// one round trip, executed in that order by the one server (not for a
    /// cluster, whose channel may be served by another node), so the
    /// message is handled after the entries are gone.
    pub(crate) async fn delete_and_publish(
        &self,
        keys: &[String],
        channel: &str,
        text: &str,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("UNLINK").arg(keys).ignore();
        pipe.cmd("PUBLISH").arg(channel).arg(text).ignore();
        let mut conn = self.live().await?;
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.failed(e))
    }

    /// The generations under `keys` (`0` for an absent one; a value that
    /// is no counter reads as one that changed).
    pub(crate) async fn generations(&self, keys: &[String]) -> Result<Vec<u64>, StoreError> {
        Ok(parse_generations(self.strings(keys).await?))
    }

    /// The string under `key` (a value that is no string reads as empty,
    /// undecodable) and whether `lease_key` exists, in one script: the two
    /// share a hash slot (see `lease::lease_key`).
    pub(crate) async fn entry_or_lease(
        &self,
        key: &str,
        lease_key: &str,
    ) -> Result<(Option<Bytes>, bool), StoreError> {
        const ENTRY_OR_LEASE: &str = "local value = redis.pcall('GET', KEYS[1]) \
             if type(value) == 'table' and value.err then value = '' end \
             return {value, redis.call('EXISTS', KEYS[2])}";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(ENTRY_OR_LEASE).arg(2).arg(key).arg(lease_key);
        let (value, held): (Option<Vec<u8>>, i64) = self.query(&cmd).await?;
        Ok((value.map(Bytes::from), held == 1))
    }

    /// Bumps the generation `key` and keeps it for `ttl` after.
    pub(crate) async fn bump(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        const BUMP: &str =
            "redis.call('INCR', KEYS[1]) redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(BUMP).arg(1).arg(key).arg(millis(ttl));
        self.query::<()>(&cmd).await
    }

    /// `cmd` and the generations under `generations`, in one round trip:
    /// one pipeline on a server, two concurrent commands on a cluster
    /// (whose generation keys live in other slots).
    async fn with_generations<T: FromRedisValue>(
        &self,
        cmd: Cmd,
        generations: &[String],
    ) -> Result<(T, Vec<u64>), StoreError> {
        if generations.is_empty() {
            return Ok((self.query(&cmd).await?, Vec::new()));
        }
        if self.is_cluster() {
            let (answer, current) =
                futures_util::future::join(self.query(&cmd), self.generations(generations)).await;
            return Ok((answer?, current?));
        }
        let mut pipe = redis::pipe();
        pipe.add_command(cmd).cmd("MGET").arg(generations);
        let mut conn = self.live().await?;
        let (answer, raw): (T, Vec<Option<Vec<u8>>>) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(e))?;
        Ok((answer, parse_generations(raw)))
    }

    /// Takes the lease `lease_key` for `token` if nobody holds it (`SET NX
    /// PX`) and reads the entry `key`, in one round trip with the
    /// generations under `generations`: the lease's fate, the entry's
    /// value, and the generations. The two keys share a hash slot (see
    /// `lease::lease_key`), so this runs on a cluster too.
    pub(crate) async fn lease_and_read(
        &self,
        claiming: &Claiming<'_>,
    ) -> Result<(Claim, Option<Bytes>, Vec<u64>), StoreError> {
        const LEASE_AND_READ: &str =
            "local taken = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) \
             local holder = false \
             if not taken then holder = redis.call('GET', KEYS[2]) end \
             local value = redis.pcall('GET', KEYS[1]) \
             if type(value) ~= 'string' then value = false end \
             return {taken and 1 or 0, value, holder}";
        let cmd = lease_script(LEASE_AND_READ, claiming);
        type Answer = (i64, Option<Vec<u8>>, Option<Vec<u8>>);
        let ((taken, value, holder), current): (Answer, _) =
            self.with_generations(cmd, claiming.generations).await?;
        let claim = claim(taken, holder);
        Ok((claim, value.map(Bytes::from), current))
    }

    /// The lookup of a key that is probably missing: its value if there is
    /// one (no lease is taken then), else the lease on computing it, taken
    /// for `token` as [`Self::lease_and_read`] does, in the same round
    /// trip, with the generations under `generations`. A cold miss thus
    /// pays one round trip before its handler runs.
    pub(crate) async fn read_or_lease(
        &self,
        claiming: &Claiming<'_>,
    ) -> Result<(Read, Vec<u64>), StoreError> {
        // A value that is not a string reads as an empty (undecodable)
        // one, as `get` reads it.
        const READ_OR_LEASE: &str = "local value = redis.pcall('GET', KEYS[1]) \
             if type(value) == 'string' then return {2, value} end \
             if type(value) == 'table' and value.err then return {2, ''} end \
             local taken = redis.pcall('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) \
             if type(taken) == 'table' and taken.err then return {3, taken.err} end \
             if taken then return {1, false} end \
             return {0, redis.call('GET', KEYS[2])}";
        let cmd = lease_script(READ_OR_LEASE, claiming);
        let ((status, value), current): ((i64, Option<Vec<u8>>), _) =
            self.with_generations(cmd, claiming.generations).await?;
        let read = match status {
            2 => Read::Value(Bytes::from(value.unwrap_or_default())),
            // The lease's write was refused (a full Redis): a miss
            // without a lease, as when taking it fails.
            3 => {
                let why = String::from_utf8_lossy(&value.unwrap_or_default()).into_owned();
                Read::Missing(Claim::Refused(why))
            }
            taken => Read::Missing(claim(taken, value)),
        };
        Ok((read, current))
    }
}

/// `MGET`'s answer as generations: absent is 0, and a value that is no
/// counter reads as `u64::MAX`, which no noted value matches in the store
/// script (it compares the text).
fn parse_generations(raw: Vec<Option<Vec<u8>>>) -> Vec<u64> {
    raw.into_iter()
        .map(|value| match value {
            None => 0,
            Some(text) => std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(u64::MAX),
        })
        .collect()
}

/// `EVAL` of a lease script over the entry and its lease (`KEYS[1]`,
/// `KEYS[2]`), with the token and the lease's TTL in milliseconds
/// (`ARGV[1]`, `ARGV[2]`).
fn lease_script(script: &str, claiming: &Claiming<'_>) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script)
        .arg(2)
        .arg(claiming.key)
        .arg(&claiming.lease_key)
        .arg(&claiming.token)
        .arg(millis(claiming.ttl));
    cmd
}

/// A lease script's answer: taken (1), or held (0) by `holder`.
fn claim(taken: i64, holder: Option<Vec<u8>>) -> Claim {
    if taken == 1 {
        Claim::Taken
    } else {
        // A lease that expired between the SET and the GET has no holder.
        Claim::Held(holder.map(Bytes::from).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_generations;

    #[test]
    fn generations_read_absent_as_zero_and_garbage_as_changed() {
        let raw = vec![None, Some(b"7".to_vec()), Some(b"x".to_vec())];
        assert_eq!(parse_generations(raw), [0, 7, u64::MAX]);
    }
}

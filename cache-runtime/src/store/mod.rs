//! Storage backends behind one small trait, private to the crate.
//!
//! [`CacheStore`] is what the cache needs from a backend: fetch one value,
//! store one value with a time to live, delete one value, and leases. The
//! backends are [`RedisStore`] (standalone Redis through a multiplexed,
//! self-reconnecting `ConnectionManager`, or Redis Cluster through
//! `cluster-async`) and [`MemoryStore`] (in process); [`Store`] dispatches
//! to them without boxing a future, and adds what the cache needs beyond
//! the trait (index sets, scoped deletes). Timeouts and fault handling are
//! applied by [`RouteCache`](crate::RouteCache) around every call, so a
//! backend only reports what happened.

// Before the modules: macros are in scope from where they are defined.
/// The server's clock in milliseconds, as a script's first line: index
/// members are scored by their entry's end of life on the server's clock,
/// the clock its `EX` expiries run on.
macro_rules! now_ms_lua {
    () => {
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    };
}

mod clock;
mod cluster;
mod contract;
mod health;
#[macro_use]
mod index;
mod memory;
mod redis;
mod reply;
mod scripts;
mod secrets;
mod sentinel;
pub(crate) mod tier;

pub(crate) use self::contract::{
    CacheStore, Claim, Claiming, Generations, Index, IndexAdd, Read, Scope,
};
pub(crate) use self::health::{DeadAfter, TcpOptions};
pub(crate) use self::memory::MemoryStore;
pub(crate) use self::redis::RedisStore;
pub(crate) use self::scripts::Save;
pub(crate) use self::secrets::Secrets;

pub(crate) use crate::error::StoreError;
use bytes::Bytes;
use std::time::Duration;

/// The backend a [`RouteCache`](crate::RouteCache) dispatches to, without
/// boxing a future on the hit path.
#[derive(Clone)]
pub(crate) enum Store {
    Redis(RedisStore),
    Memory(MemoryStore),
}

impl Store {
    /// Lists `member`, which lives `ttl` more, in `index` (whose own life
    /// is pushed out to at least that), unless the set is full.
    pub(crate) async fn index_add(
        &self,
        index: &Index,
        member: &str,
        ttl: Duration,
    ) -> Result<IndexAdd, StoreError> {
        match self {
            Self::Redis(s) => s.index_add(index, member, ttl).await,
            Self::Memory(s) => Ok(s.index_add(index, member, ttl)),
        }
    }

    /// Removes and returns up to `count` live members of `index` (the
    /// expired ones are dropped first, and not returned).
    pub(crate) async fn index_pop(
        &self,
        index: &str,
        count: usize,
    ) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Redis(s) => s.index_pop(index, count).await,
            Self::Memory(s) => Ok(s.index_pop(index, count)),
        }
    }

    pub(crate) async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        match self {
            Self::Redis(s) => s.delete_many(keys).await,
            Self::Memory(s) => {
                for key in keys {
                    s.delete(key).await?;
                }
                Ok(())
            }
        }
    }

    /// Deletes every key in `scope`; returns how many there were.
    pub(crate) async fn delete_scope(&self, scope: &Scope) -> Result<usize, StoreError> {
        match self {
            Self::Redis(s) => s.delete_matching(&scope.glob()).await,
            Self::Memory(s) => Ok(s.delete_where(|key| scope.matches(key))),
        }
    }

    /// The value under `key`, and whether the lease `lease_key` (in the
    /// same hash slot) is still held, in one round trip. In process no
    /// other instance holds a lease: only the value.
    pub(crate) async fn entry_or_lease(
        &self,
        key: &str,
        lease_key: &str,
    ) -> Result<(Option<Bytes>, bool), StoreError> {
        match self {
            Self::Redis(s) => s.entry_or_lease(key, lease_key).await,
            Self::Memory(s) => Ok((s.peek(key), false)),
        }
    }

    /// Every member of the index set `index`, left in place.
    pub(crate) async fn index_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Redis(s) => s.index_members(index).await,
            Self::Memory(s) => Ok(s.index_members(index)),
        }
    }

    /// Every key in `scope`.
    pub(crate) async fn scope_keys(&self, scope: &Scope) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Redis(s) => s.keys_matching(&scope.glob()).await,
            Self::Memory(s) => Ok(s.keys_where(|key| scope.matches(key))),
        }
    }

    /// The values under `keys`, in order.
    pub(crate) async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        match self {
            Self::Redis(s) => s.get_many(keys).await,
            Self::Memory(s) => Ok(keys.iter().map(|key| s.peek(key)).collect()),
        }
    }

    /// Replaces the entry under `key` with `new` if it is still `old`,
    /// for the rest of its life (`life`; Redis keeps the key's own
    /// expiry); whether it did.
    pub(crate) async fn replace(
        &self,
        key: &str,
        old: &Bytes,
        new: Bytes,
        life: Duration,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Redis(s) => s.replace(key, old, &new).await,
            Self::Memory(s) => Ok(s.replace(key, old, new, life)),
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

    /// Whether other processes share this store (leases matter).
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    /// [`RedisStore::lease_and_read`]; in process, no lease is needed and
    /// the value and the generations are read.
    pub(crate) async fn lease_and_read(
        &self,
        claiming: &Claiming<'_>,
    ) -> Result<(Claim, Option<Bytes>, Vec<u64>), StoreError> {
        match self {
            Self::Redis(s) => s.lease_and_read(claiming).await,
            Self::Memory(s) => {
                let generations = s.generations(claiming.generations);
                Ok((Claim::Taken, s.peek(claiming.key), generations))
            }
        }
    }

    /// [`RedisStore::read_or_lease`]; in process, the value or a lease
    /// that nothing else can hold, and the generations.
    pub(crate) async fn read_or_lease(
        &self,
        claiming: &Claiming<'_>,
    ) -> Result<(Read, Vec<u64>), StoreError> {
        match self {
            Self::Redis(s) => s.read_or_lease(claiming).await,
            Self::Memory(s) => {
                let read = s
                    .peek(claiming.key)
                    .map_or(Read::Missing(Claim::Taken), Read::Value);
                Ok((read, s.generations(claiming.generations)))
            }
        }
    }

    pub(crate) async fn release_lease(&self, key: &str, token: &str) -> Result<(), StoreError> {
        match self {
            Self::Redis(s) => s.release_lease(key, token).await,
            Self::Memory(s) => s.release_lease(key, token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn scopes_match_like_their_globs() {
        let route = Scope {
            prefix: "rc:app::items:GET:".to_owned(),
            namespace: false,
        };
        assert!(route.matches("rc:app::items:GET:/items/1"));
        assert!(!route.matches("rc:app::items_v2:GET:/x"));
        assert_eq!(route.glob(), "rc:app::items:GET:*");

        let namespace = Scope {
            prefix: "rc:users:".to_owned(),
            namespace: true,
        };
        assert!(namespace.matches("rc:users:app::get:GET:/u/1"));
        assert!(
            !namespace.matches("rc:users::get:GET:/u/1"),
            "a route id, not the namespace"
        );
        assert_eq!(namespace.glob(), "rc:users:[^:]*");

        let odd = Scope {
            prefix: "a*b?[c]:".to_owned(),
            namespace: false,
        };
        assert_eq!(odd.glob(), r"a\*b\?\[c\]:*");
    }
}

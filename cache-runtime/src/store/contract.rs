//! What every backend provides, and the values that cross it: index
//! sets, leases (claims), reads and scopes.

use super::StoreError;
use bytes::Bytes;
use std::{future::Future, time::Duration};

/// An index set an entry is listed in, for invalidation: its key and the
/// most live members it may hold (see [`crate::key::path_index`] and
/// [`crate::key::tag_index`]). Members are scored by their entry's end of
/// life: expired ones are pruned on every add and cost an invalidation
/// nothing, and an entry that would overflow a full set is not stored, so
/// that no request can grow a set without bound and no invalidation can
/// miss an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    pub(crate) key: String,
    pub(crate) cap: usize,
}

/// What became of adding a member to an index set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexAdd {
    Added,
    /// The set holds its most live members: not added.
    Full,
}

/// What became of an attempt to take a lease.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Taken, under the caller's token.
    Taken,
    /// Someone holds it; this is their token (empty when it expired
    /// meanwhile).
    Held(Bytes),
    /// The backend refused to write it, for this reason.
    Refused(String),
}

/// A claim on computing the entry `key`: its lease `lease_key`, taken for
/// `token` for `ttl`, and the fill's `generations` to note with it (see
/// `crate::fill::generation`).
#[derive(Debug)]
pub(crate) struct Claiming<'a> {
    pub(crate) key: &'a str,
    pub(crate) lease_key: String,
    pub(crate) token: String,
    pub(crate) ttl: Duration,
    pub(crate) generations: &'a [String],
}

/// A lookup that takes the lease when the entry is missing.
#[derive(Debug)]
pub(crate) enum Read {
    Value(Bytes),
    Missing(Claim),
}

/// A key-value backend holding encoded [`Entry`](crate::entry::Entry) values.
pub(crate) trait CacheStore: Send + Sync + 'static {
    /// Fetches the value stored under `key`, or `None` when there is none
    /// (or it has expired).
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;

    /// Stores `value` under `key`, replacing any previous value, to expire
    /// after `ttl` (whole seconds; at least one).
    fn set(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the value stored under `key`, if any.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Releases `lease_key` if `token` still holds it (compare and delete).
    fn release_lease(
        &self,
        lease_key: &str,
        token: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (lease_key, token);
        std::future::ready(Ok(()))
    }
}

/// A set of keys deleted together: every key starting with `prefix`, or,
/// for a namespace, only those whose next character is not `:` (a route id
/// such as `users::get` must not fall under the namespace `users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) prefix: String,
    pub(crate) namespace: bool,
}

impl Scope {
    pub(crate) fn matches(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && !(self.namespace && key.as_bytes().get(self.prefix.len()) == Some(&b':'))
    }

    /// The Redis `SCAN MATCH` glob for the scope.
    pub(crate) fn glob(&self) -> String {
        let mut glob = String::with_capacity(self.prefix.len() + 8);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
                glob.push('\\');
            }
            glob.push(c);
        }
        glob.push_str(if self.namespace { "[^:]*" } else { "*" });
        glob
    }
}

/// What a fill noted before its handler ran: the generation keys that can
/// invalidate its entry and their values then (`None`: they could not be
/// read, and the fill stores nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Generations {
    pub(crate) keys: Vec<String>,
    pub(crate) values: Option<Vec<u64>>,
}

impl Generations {
    /// Whether `current` (read after the write) differs from what was
    /// noted.
    pub(crate) fn changed(&self, current: &[u64]) -> bool {
        self.values.as_deref() != Some(current)
    }
}

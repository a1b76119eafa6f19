//! Race-free fills. A miss that read its data before an invalidation could
//! store its response after it, and the stale entry would then live a full
//! TTL (the cache-aside race). Every invalidation therefore first bumps the
//! generation of what it names (a path, a tag, a route, a namespace, or
//! everything), then deletes; a fill notes the generations of everything
//! that names its entry before its handler runs, and its entry is kept only
//! if none of them has changed:
//!
//! - **standalone Redis and Sentinel:** checked and written atomically, by
//!   one script in the fill's store pipeline;
//! - **Redis Cluster:** the counters live in other hash slots than the
//!   entry, so the entry is written first and the counters read again
//!   after it; if one changed, the entry is deleted. This is sound because
//!   an invalidation bumps before it deletes: either its delete comes
//!   after the write and removes the entry, or the re-read comes after the
//!   bump and sees it;
//! - **in process:** the same write-then-check, on a table of counters.
//!
//! A fill's answer goes to its client either way; only the entry is
//! withheld (counted as a refusal, reason `invalidated`).

use crate::cache::RouteCache;
use crate::error::StoreError;
use crate::observe::{failure, Op};
pub(crate) use crate::store::Generations;
use crate::store::Store;
use std::time::Duration;

/// How long a generation counter outlives its last bump: far longer than
/// any fill, so that a fill never sees a counter expire and reappear at an
/// old value.
pub(crate) const GENERATION_TTL: Duration = Duration::from_secs(86_400);

/// The generation key of an index set (`<prefix>:#p:…`,
/// `<prefix>:#t:…`), a route's or namespace's scope, or everything.
/// They live outside the prefix's `<prefix>:` key space, so that no scan
/// of an invalidation deletes them.
pub(crate) fn of_index(prefix: &str, index: &str) -> String {
    let rest = index
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(index);
    format!("{prefix}#gen:{rest}")
}

/// The generation key of a route (its key scope `<prefix>:…:GET:`).
pub(crate) fn of_route(prefix: &str, scope: &str) -> String {
    let rest = scope
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(scope);
    format!("{prefix}#gen:#route:{rest}")
}

/// The generation key of a namespace.
pub(crate) fn of_namespace(prefix: &str, namespace: &str) -> String {
    format!("{prefix}#gen:#namespace:{namespace}")
}

/// The generation key every fill notes, bumped by `invalidate_all`.
pub(crate) fn of_all(prefix: &str) -> String {
    format!("{prefix}#gen:#all")
}

/// The generation keys of a fill of the route whose key segment is
/// `route_key` (`RoutePolicy::key_id`, in `namespace`) and whose entry is
/// listed in `indexes` (its path index and tag sets): those indexes', the
/// route's, the namespace's and everything's.
pub(crate) fn keys_for<'a>(
    prefix: &str,
    namespace: Option<&str>,
    route_key: &str,
    indexes: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let scope = crate::key::KeyBuilder::new(prefix, namespace, route_key, "GET");
    let mut keys: Vec<String> = indexes.into_iter().map(|i| of_index(prefix, i)).collect();
    keys.push(of_route(prefix, scope.scope()));
    if let Some(namespace) = namespace {
        keys.push(of_namespace(prefix, namespace));
    }
    keys.push(of_all(prefix));
    keys
}

impl RouteCache {
    /// Notes the generations of `keys` now (one round trip on Redis, a read
    /// of the counter table in process). A failure is logged and noted as
    /// unknown, so the fill stores nothing.
    pub(crate) async fn note(&self, keys: Vec<String>) -> Generations {
        let values = match &self.inner.store {
            Store::Memory(memory) => Some(memory.generations(&keys)),
            Store::Redis(redis) => {
                match self.call(Op::Generation, redis.generations(&keys)).await {
                    Ok(values) => Some(values),
                    Err(e) => {
                        self.fault("generation", keys.first().map_or("", String::as_str), &e);
                        None
                    }
                }
            }
        };
        Generations { keys, values }
    }

    /// `noted` with the generations of those of `wanted` it lacks, read
    /// now (before the handler runs): a lookup made before the request's
    /// tags were known noted the others. Nothing is read when it lacks
    /// none.
    pub(crate) async fn complete(&self, noted: Generations, wanted: Vec<String>) -> Generations {
        let missing: Vec<String> = wanted
            .into_iter()
            .filter(|key| !noted.keys.contains(key))
            .collect();
        if missing.is_empty() {
            return noted;
        }
        let more = self.note(missing).await;
        let values = noted.values.zip(more.values).map(|(mut a, b)| {
            a.extend(b);
            a
        });
        let mut keys = noted.keys;
        keys.extend(more.keys);
        Generations { keys, values }
    }

    /// Bumps the generation `key`, before an invalidation deletes what it
    /// names: fills that began before it will not keep their entries.
    pub(crate) async fn bump(&self, key: &str) -> Result<(), StoreError> {
        match &self.inner.store {
            Store::Memory(memory) => {
                memory.bump(key);
                Ok(())
            }
            Store::Redis(redis) => {
                let bumped = redis.bump(key, GENERATION_TTL).await;
                if let Err(e) = &bumped {
                    self.inner.metrics.failed(Op::Generation, failure(e.kind()));
                }
                bumped
            }
        }
    }

    /// Whether a fill's generations changed while it ran, read after its
    /// entry was written (Cluster and in process; standalone Redis checks
    /// in the write itself). A failed read counts as changed.
    pub(crate) async fn changed_since(&self, noted: &Generations) -> bool {
        let current = match &self.inner.store {
            Store::Memory(memory) => Ok(memory.generations(&noted.keys)),
            Store::Redis(redis) => {
                self.call(Op::Generation, redis.generations(&noted.keys))
                    .await
            }
        };
        current.map_or(true, |current| noted.changed(&current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_keys_live_outside_the_prefix_key_space() {
        assert_eq!(of_index("rc", "rc:#p:/items/1"), "rc#gen:#p:/items/1");
        assert_eq!(of_index("rc", "rc:#t:item:1"), "rc#gen:#t:item:1");
        assert_eq!(
            of_route("rc", "rc:app::get_item:GET:"),
            "rc#gen:#route:app::get_item:GET:"
        );
        assert_eq!(of_namespace("rc", "v2"), "rc#gen:#namespace:v2");
        assert_eq!(of_all("rc"), "rc#gen:#all");
        for key in [of_all("rc"), of_index("rc", "rc:#t:x")] {
            assert!(!key.starts_with("rc:"), "{key}");
        }
    }

    #[test]
    fn unknown_generations_always_count_as_changed() {
        let noted = Generations {
            keys: vec!["a".into()],
            values: Some(vec![3]),
        };
        assert!(!noted.changed(&[3]));
        assert!(noted.changed(&[4]));
        let unknown = Generations {
            values: None,
            ..noted
        };
        assert!(unknown.changed(&[3]));
    }
}

//! What the admin API needs to list the cached routes and explain a URL
//! without running a handler:
//!
//! - the **registry** every `#[cached_route]` adds its route to when the
//!   program is linked (through `inventory`): its policy, its key
//!   derivation and the query fields it keeps, known from start-up;
//! - the **mount points**: the router path each route is mounted at,
//!   learned from axum's `MatchedPath` on its first request (or
//!   warm-up), by the id of the cache whose layer served it (one process
//!   may serve several routers). The router does not tell its paths
//!   before that; `/explain?route=<id>` names the route instead.

use crate::cache::RouteCache;
use crate::key::QueryPolicy;
use crate::observe::Bypass;
use crate::policy::RoutePolicy;
use std::sync::{PoisonError, RwLock};

/// The key a route gives a request's parts, or why it has none.
pub(crate) type KeyFn = fn(&RouteCache, &http::request::Parts) -> Result<String, KeyUnknown>;

/// Why a request's key cannot be told from its parts alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUnknown {
    /// The request would bypass the cache.
    Bypass(Bypass),
    /// The key is an expression over the handler's parameters, known
    /// only once its extractors run.
    Expression,
}

/// A cached route as the macro registers it.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct RouteRegistration {
    pub(crate) policy: &'static RoutePolicy,
    pub(crate) key: KeyFn,
    /// The query parameters the key keeps (learned from `Query<T>`).
    pub(crate) query: fn() -> QueryPolicy,
}

inventory::collect!(RouteRegistration);

/// Every cached route compiled into the program, by route id.
pub(crate) fn registered() -> impl Iterator<Item = &'static RouteRegistration> {
    inventory::iter::<RouteRegistration>.into_iter()
}

/// The registered route with the id `route_id`.
pub(crate) fn registered_route(route_id: &str) -> Option<&'static RouteRegistration> {
    registered().find(|r| r.policy.route_id() == route_id)
}

/// The paths the routes of the cache `cache` were seen mounted at, by
/// route id.
pub(crate) fn mount_points(cache: u64, route_id: &str) -> Vec<String> {
    let learned = LEARNED.read().unwrap_or_else(PoisonError::into_inner);
    learned
        .iter()
        .filter(|l| l.cache == cache && l.route.policy.route_id() == route_id)
        .map(|l| l.template.clone())
        .collect()
}

/// One cached route as mounted.
#[derive(Clone)]
pub(crate) struct MountedRoute {
    /// The cache whose layer served the route (`Metrics::id`).
    pub(crate) cache: u64,
    /// The router path (`/items/{id}`), nest prefix included.
    pub(crate) template: String,
    pub(crate) route: RouteRegistration,
}

static LEARNED: RwLock<Vec<MountedRoute>> = RwLock::new(Vec::new());

/// Records a route's mount point (once per route and path).
pub(crate) fn learn(route: MountedRoute) {
    let mut learned = LEARNED.write().unwrap_or_else(PoisonError::into_inner);
    let known = learned.iter().any(|l| {
        l.cache == route.cache
            && l.route.policy.route_id() == route.route.policy.route_id()
            && l.template == route.template
    });
    if !known {
        learned.push(route);
    }
}

/// The route of the cache `cache` mounted at the path that matches `path`
/// most specifically (most literal segments), if any has been seen.
pub(crate) fn find(cache: u64, path: &str) -> Option<MountedRoute> {
    let learned = LEARNED.read().unwrap_or_else(PoisonError::into_inner);
    learned
        .iter()
        .filter(|l| l.cache == cache)
        .filter_map(|l| specificity(&l.template, path).map(|s| (s, l)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, l)| l.clone())
}

/// How many literal segments of the axum path `template` match `path`
/// (`None`: it does not match). `{name}` matches one non-empty segment,
/// `{*rest}` the rest of the path.
fn specificity(template: &str, path: &str) -> Option<usize> {
    let mut literal = 0;
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(literal),
            (Some(w), rest) if w.starts_with("{*") && w.ends_with('}') => {
                return rest.map(|_| literal);
            }
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return None;
                }
            }
            (Some(w), Some(g)) if w == g => literal += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::specificity;

    #[test]
    fn axum_paths_match_like_the_router() {
        // The empty segment before the first `/` counts as a literal.
        assert_eq!(specificity("/items/{id}", "/items/7"), Some(2));
        assert_eq!(specificity("/items/{id}", "/items/"), None);
        assert_eq!(specificity("/items/{id}", "/items/7/x"), None);
        assert_eq!(specificity("/items", "/items"), Some(2));
        assert_eq!(specificity("/files/{*rest}", "/files/a/b"), Some(2));
        assert_eq!(specificity("/api/items/{id}", "/items/1"), None);
        assert!(specificity("/items/new", "/items/new") > specificity("/items/{id}", "/items/new"));
    }
}

//! Edge caches (a CDN, or Varnish or nginx in front of the app) purged
//! along with this cache: routes' tags sent as `Surrogate-Key` and/or
//! `Cache-Tag` response headers ([`EdgeTags`]), and an [`EdgePurge`] that
//! every invalidation also calls.
//!
//! Besides a route's own tags, every tagged response carries three scope
//! tags, so that the scoped invalidations reach the edge too:
//! `<prefix>:route:<route id>` (purged by
//! [`invalidate_route`](crate::RouteCache::invalidate_route)),
//! `<prefix>:namespace:<namespace>` on a route with a namespace
//! ([`invalidate_namespace`](crate::RouteCache::invalidate_namespace)), and
//! `<prefix>:all` ([`invalidate_all`](crate::RouteCache::invalidate_all)),
//! with `<prefix>` the cache's key prefix (`rc` by default).

use http::{HeaderMap, HeaderName, HeaderValue};
use std::{fmt, future::Future, pin::Pin};

/// Which response header carries a route's tags to an edge cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EdgeTags {
    /// `Surrogate-Key: item:42 items`, space-separated (Fastly, Varnish
    /// with `xkey` reading it, Souin, Bunny).
    SurrogateKey,
    /// `Cache-Tag: item:42,items`, comma-separated (Cloudflare, Akamai's
    /// `Edge-Cache-Tag` by rewrite).
    CacheTag,
    /// Both headers.
    Both,
}

const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");
const CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");

/// A tag as the edge headers carry it: bytes outside visible ASCII, and
/// `%`, `,` and `"`, percent-encoded (space is a separator in
/// `Surrogate-Key`, the comma in `Cache-Tag`). [`EdgePurge`] receives tags
/// in this form, so it purges what the headers named.
///
/// ```
/// assert_eq!(cache_runtime::edge::edge_tag("item:42"), "item:42");
/// assert_eq!(cache_runtime::edge::edge_tag("a b,c"), "a%20b%2Cc");
/// ```
pub fn edge_tag(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    for byte in tag.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'%' | b',' | b'"') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The edge tag every response of a route carries (besides its own
/// tags), which [`RouteCache::invalidate_route`](crate::RouteCache::invalidate_route)
/// purges: `<prefix>:route:<route id>`.
pub(crate) fn route_tag(prefix: &str, route_id: &str) -> String {
    format!("{prefix}:route:{route_id}")
}

/// The edge tag of every response of a namespace's routes, which
/// [`RouteCache::invalidate_namespace`](crate::RouteCache::invalidate_namespace)
/// purges: `<prefix>:namespace:<namespace>`.
pub(crate) fn namespace_tag(prefix: &str, namespace: &str) -> String {
    format!("{prefix}:namespace:{namespace}")
}

/// The edge tag of every response of the cache, which
/// [`RouteCache::invalidate_all`](crate::RouteCache::invalidate_all)
/// purges: `<prefix>:all`.
pub(crate) fn all_tag(prefix: &str) -> String {
    format!("{prefix}:all")
}

/// Adds `tags` to `headers` as `which` says.
pub(crate) fn add_tags<'a>(
    headers: &mut HeaderMap,
    which: EdgeTags,
    tags: impl IntoIterator<Item = &'a str>,
) {
    let encoded: Vec<String> = tags.into_iter().map(edge_tag).collect();
    if encoded.is_empty() {
        return;
    }
    let mut put = |name: HeaderName, separator: &str| {
        if let Ok(value) = HeaderValue::from_str(&encoded.join(separator)) {
            headers.insert(name, value);
        }
    };
    if matches!(which, EdgeTags::SurrogateKey | EdgeTags::Both) {
        put(SURROGATE_KEY, " ");
    }
    if matches!(which, EdgeTags::CacheTag | EdgeTags::Both) {
        put(CACHE_TAG, ",");
    }
}

/// What an edge purge reports when it fails.
pub type EdgeError = Box<dyn std::error::Error + Send + Sync>;

/// The future an [`EdgePurge`] method returns.
pub type EdgeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), EdgeError>> + Send + 'a>>;

/// An edge cache in front of the app, purged whenever this cache is
/// invalidated: by tag ([`RouteCache::invalidate_tag`](crate::RouteCache::invalidate_tag),
/// `#[invalidates(tags = …)]`) or by path ([`RouteCache::invalidate`](crate::RouteCache::invalidate),
/// `#[invalidates(paths = …)]`) with what was named, and by route,
/// namespace or everything with the scope tag (see the [module docs](self)),
/// after this cache's own entries are gone; soft invalidations
/// ([`RouteCache::soft`](crate::RouteCache::soft)) call the `soft_` methods. Register one with
/// [`RouteCacheBuilder::edge_purge`](crate::RouteCacheBuilder::edge_purge).
/// A failure is logged and counted (`op = "edge-purge"`); it does not
/// fail the invalidation, whose entries here are gone already.
///
/// ```
/// use cache_runtime::edge::{EdgeFuture, EdgePurge};
///
/// /// Logs instead of purging; a real one calls the CDN's purge API.
/// struct Logged;
///
/// impl EdgePurge for Logged {
///     fn purge_tags<'a>(&'a self, tags: &'a [String]) -> EdgeFuture<'a> {
///         Box::pin(async move {
///             println!("purge tags {tags:?}");
///             Ok(())
///         })
///     }
///
///     fn purge_paths<'a>(&'a self, paths: &'a [String]) -> EdgeFuture<'a> {
///         Box::pin(async move {
///             println!("purge paths {paths:?}");
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait EdgePurge: Send + Sync + 'static {
    /// Purges every response tagged with one of `tags` (in the form
    /// [`edge_tag`] gives, as the response headers carried them).
    fn purge_tags<'a>(&'a self, tags: &'a [String]) -> EdgeFuture<'a>;

    /// Purges the responses for `paths` (each a path and query, as
    /// invalidated).
    fn purge_paths<'a>(&'a self, paths: &'a [String]) -> EdgeFuture<'a>;

    /// Marks stale (soft purge) every response tagged with one of `tags`,
    /// for [`RouteCache::soft`](crate::RouteCache::soft) invalidations. By default, a purge.
    fn soft_purge_tags<'a>(&'a self, tags: &'a [String]) -> EdgeFuture<'a> {
        self.purge_tags(tags)
    }

    /// Marks stale the responses for `paths`. By default, a purge.
    fn soft_purge_paths<'a>(&'a self, paths: &'a [String]) -> EdgeFuture<'a> {
        self.purge_paths(paths)
    }
}

/// What an invalidation asks of the edge.
pub(crate) enum EdgeTarget<'a> {
    Tag(&'a str),
    Path(&'a str),
    SoftTag(&'a str),
    SoftPath(&'a str),
}

impl fmt::Display for EdgeTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A path's query string may carry what a log must not: left out.
        let path = |path: &str| match path.split_once('?') {
            Some((path, _)) => format!("{path}?…"),
            None => path.to_owned(),
        };
        match self {
            Self::Tag(tag) => write!(f, "tag {tag}"),
            Self::Path(p) => write!(f, "path {}", path(p)),
            Self::SoftTag(tag) => write!(f, "tag {tag} (soft)"),
            Self::SoftPath(p) => write!(f, "path {} (soft)", path(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_in_the_chosen_headers_encoded() {
        let tags = ["item:42", "a b"];
        let mut headers = HeaderMap::new();
        add_tags(&mut headers, EdgeTags::Both, tags);
        assert_eq!(headers["surrogate-key"], "item:42 a%20b");
        assert_eq!(headers["cache-tag"], "item:42,a%20b");
        let mut only = HeaderMap::new();
        add_tags(&mut only, EdgeTags::CacheTag, tags);
        assert!(!only.contains_key("surrogate-key"));
        let mut none = HeaderMap::new();
        add_tags(&mut none, EdgeTags::Both, []);
        assert!(none.is_empty());
        assert_eq!(edge_tag("é%\""), "%C3%A9%25%22");
    }
}

//! Per-route settings, written by `#[cached_route]` as a `const`.

use crate::config::CacheConfig;
use crate::http::encoding::Encoding;
use crate::key::QueryPolicy;

/// Where the request part of a route's key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// The path and the query parameters the route's [`QueryPolicy`] keeps.
    Request,
    /// A function of the request parts (`key = path::to::function`, or a
    /// closure), or a `const` or `static` value, evaluated before the
    /// extractors run.
    Function,
    /// An expression over the handler's bound parameters
    /// (`key = format!("item:{id}")`), evaluated after the extractors run.
    Handler,
}

/// What `key = some::path` names, told apart by its type: a function of
/// the request parts whose result is `Display` (`Marker` = [`ByFunction`]),
/// or a value that is (`Marker` = [`ByValue`], a `const` or a `static`).
/// The marker keeps the two impls apart; the one whose bounds hold is
/// chosen.
#[diagnostic::on_unimplemented(
    message = "`key = {Self}` names neither a function of the request parts nor a value to key on",
    label = "expected `fn(&Parts) -> impl Display`, or a `const` or `static` that is `Display`",
    note = "a key over the handler's parameters is an expression: `key = format!(\"item:{{id}}\")`"
)]
pub trait KeyPart<Marker> {
    /// The key's request part for a request with `parts`.
    fn key_part(&self, parts: &http::request::Parts) -> String;
}

/// [`KeyPart`]'s marker for a function of the request parts.
pub struct ByFunction<T>(core::marker::PhantomData<T>);

/// [`KeyPart`]'s marker for a value.
pub struct ByValue;

impl<F, T> KeyPart<ByFunction<T>> for F
where
    F: Fn(&http::request::Parts) -> T,
    T: core::fmt::Display,
{
    fn key_part(&self, parts: &http::request::Parts) -> String {
        self(parts).to_string()
    }
}

impl<T: core::fmt::Display + ?Sized> KeyPart<ByValue> for T {
    fn key_part(&self, _: &http::request::Parts) -> String {
        self.to_string()
    }
}

/// The key's request part from what `key = some::path` names (see
/// `KeyPart`).
pub fn key_part<M, K: KeyPart<M> + ?Sized>(key: &K, parts: &http::request::Parts) -> String {
    key.key_part(parts)
}

/// How a route treats requests that carry credentials (`Authorization` or
/// `Cookie`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthPolicy {
    /// The default: such requests are neither served from nor stored in a
    /// shared entry, unless the route keys on the credentials (`vary`) or
    /// sets its own `key`.
    Bypass,
    /// The response does not depend on who asks (`shared = true`): one
    /// entry serves everyone.
    Shared,
    /// One entry per user (`private = true`): the key carries a hash of
    /// the credentials and responses are marked `Cache-Control: private`.
    Private,
}

/// What one cached route asks of the cache. The macro builds it in a `const`
/// from the attribute's arguments, under the versioned path its code uses
/// (not a public API: it changes with the macros).
///
/// ```
/// use cache_runtime::__private_0_1_0::{QueryPolicy, RoutePolicy};
///
/// const POLICY: RoutePolicy = RoutePolicy::new("app::get_item", 3600)
///     .with_max_body(64 * 1024)
///     .with_query(QueryPolicy::Allow(&["page"]))
///     .with_vary(&["accept-language"])
///     .with_namespace("v2");
/// assert_eq!(POLICY.ttl_secs(), 3600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutePolicy {
    route_id: &'static str,
    /// The route's segment of its keys, derived from `route_id` by `route_key`.
    key_id: [u8; ROUTE_KEY_LEN],
    ttl_secs: u32,
    max_body: Option<usize>,
    query: QueryPolicy,
    vary: &'static [&'static str],
    namespace: Option<&'static str>,
    key_source: KeySource,
    auth: AuthPolicy,
    cache_control: Option<&'static str>,
    honor_client: Option<bool>,
    stale_secs: Option<u32>,
    stale_if_error: Option<bool>,
    host: bool,
    revalidate: bool,
    shadow: bool,
    tags: &'static [&'static str],
    negative: &'static [u16],
    negative_ttl_secs: u32,
    compress: Option<Option<Encoding>>,
    /// Refresh-ahead, in thousandths of an entry's TTL (0: off).
    refresh_ahead: u16,
}

impl RoutePolicy {
    /// A policy for the route `route_id` (the handler's module path and name)
    /// whose entries live `ttl_secs` seconds. A TTL of 0 is raised to 1.
    pub const fn new(route_id: &'static str, ttl_secs: u32) -> Self {
        Self {
            route_id,
            key_id: route_key(route_id),
            ttl_secs: if ttl_secs == 0 { 1 } else { ttl_secs },
            max_body: None,
            query: QueryPolicy::All,
            vary: &[],
            namespace: None,
            key_source: KeySource::Request,
            auth: AuthPolicy::Bypass,
            cache_control: None,
            honor_client: None,
            stale_secs: None,
            stale_if_error: None,
            host: false,
            revalidate: false,
            shadow: false,
            tags: &[],
            negative: &[],
            negative_ttl_secs: 0,
            compress: None,
            refresh_ahead: 0,
        }
    }

    /// Refresh-ahead: a hit on an entry older than `permille` thousandths
    /// of its TTL also recomputes it in the background, once per key (in
    /// process, and across instances through the lease), so that a key
    /// requested often never misses. 0 or 1000 and above turn it off.
    #[must_use]
    pub const fn with_refresh_ahead(mut self, permille: u16) -> Self {
        self.refresh_ahead = if permille >= 1000 { 0 } else { permille };
        self
    }

    /// The refresh-ahead point in thousandths of the TTL, if the route
    /// refreshes ahead.
    pub const fn refresh_ahead(&self) -> Option<u16> {
        if self.refresh_ahead == 0 {
            None
        } else {
            Some(self.refresh_ahead)
        }
    }

    /// The encoding this route's compressible entries are stored in,
    /// overriding the cache's ([`RouteCacheBuilder::compression`](crate::RouteCacheBuilder::compression));
    /// `None` stores them as the handler produced them.
    #[must_use]
    pub const fn with_compress(mut self, encoding: Option<Encoding>) -> Self {
        self.compress = Some(encoding);
        self
    }

    /// The route's own choice of stored encoding, if it made one.
    pub const fn compress(&self) -> Option<Option<Encoding>> {
        self.compress
    }

    /// Overrides the cache-wide body size limit for this route.
    #[must_use]
    pub const fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// Chooses which query parameters take part in the key.
    #[must_use]
    pub const fn with_query(mut self, query: QueryPolicy) -> Self {
        self.query = query;
        self
    }

    /// Request headers whose values take part in the key (lower-case names);
    /// they are also sent in the response's `Vary`.
    #[must_use]
    pub const fn with_vary(mut self, headers: &'static [&'static str]) -> Self {
        self.vary = headers;
        self
    }

    /// The route's `tags` templates as written (`"item:{id}"`), for the
    /// admin API's route list; each request's tags are their values.
    #[must_use]
    pub const fn with_tags(mut self, templates: &'static [&'static str]) -> Self {
        self.tags = templates;
        self
    }

    /// The route's `tags` templates as written.
    pub const fn tags(&self) -> &'static [&'static str] {
        self.tags
    }

    /// A key-space segment for this route; change it to start afresh.
    #[must_use]
    pub const fn with_namespace(mut self, namespace: &'static str) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Where the request part of the key comes from.
    #[must_use]
    pub const fn with_key_source(mut self, source: KeySource) -> Self {
        self.key_source = source;
        self
    }

    /// How requests with credentials are treated.
    #[must_use]
    pub const fn with_auth(mut self, auth: AuthPolicy) -> Self {
        self.auth = auth;
        self
    }

    /// The `Cache-Control` sent with this route's cacheable responses, in
    /// place of the generated `public, max-age=<remaining>`.
    #[must_use]
    pub const fn with_cache_control(mut self, value: &'static str) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// Whether clients' `Cache-Control: no-cache`/`no-store`/`max-age=0`
    /// are honoured on this route (default: the cache's setting).
    #[must_use]
    pub const fn with_honor_client(mut self, honor: bool) -> Self {
        self.honor_client = Some(honor);
        self
    }

    /// Serve entries up to `secs` past their TTL while one background
    /// refresh recomputes them (0: never serve stale).
    #[must_use]
    pub const fn with_stale(mut self, secs: u32) -> Self {
        self.stale_secs = Some(secs);
        self
    }

    /// Whether a stale entry keeps being served when its refresh fails.
    #[must_use]
    pub const fn with_stale_if_error(mut self, serve: bool) -> Self {
        self.stale_if_error = Some(serve);
        self
    }

    /// Whether the request's host takes part in the key (default `false`:
    /// instances reached under different names or ports share entries).
    /// `#[cached_route]` sets it for handlers that can read the host
    /// (`HeaderMap`, `Host`, `Request`, `Uri`, unknown extractors) unless
    /// the route declares what they read, and `host = true | false`
    /// forces it. A handler that reads the host (absolute links, tenants)
    /// must be keyed on it, or it serves one host's response to every
    /// other.
    #[must_use]
    pub const fn with_host(mut self, keyed: bool) -> Self {
        self.host = keyed;
        self
    }

    /// Negative caching: these statuses (3xx or 4xx, never `304`) are
    /// stored too, for `ttl_secs` (capped by the route's TTL; 0 is raised
    /// to 1). Statuses the cache may never store (5xx, `206`, …) are
    /// ignored.
    #[must_use]
    pub const fn with_negative(mut self, statuses: &'static [u16], ttl_secs: u32) -> Self {
        self.negative = statuses;
        self.negative_ttl_secs = if ttl_secs == 0 { 1 } else { ttl_secs };
        self
    }

    /// Revalidation through the handler: an entry past its TTL that has a
    /// validator is kept (for another TTL) and, when asked for, the handler
    /// sees the request with `If-None-Match`/`If-Modified-Since` for it; a
    /// `304` refreshes the entry, whose body is then served.
    #[must_use]
    pub const fn with_revalidate(mut self, revalidate: bool) -> Self {
        self.revalidate = revalidate;
        self
    }

    /// Whether expired entries are revalidated through the handler.
    pub const fn revalidates(&self) -> bool {
        self.revalidate
    }

    /// Shadow mode: the handler answers every request, and the cache
    /// stores its answers and compares each with the entry it would have
    /// served, serving none.
    #[must_use]
    pub const fn with_shadow(mut self, shadow: bool) -> Self {
        self.shadow = shadow;
        self
    }

    /// Whether the route runs in shadow mode (by its own option; the
    /// cache's `shadow` setting covers every route).
    pub const fn shadow(&self) -> bool {
        self.shadow
    }

    /// Whether the request's host takes part in the key.
    pub const fn keys_host(&self) -> bool {
        self.host
    }

    /// The statuses stored by negative caching, besides 200, 203 and 204.
    pub const fn negative(&self) -> &'static [u16] {
        self.negative
    }

    /// The time to live of negatively cached entries, in seconds (at most
    /// the route's TTL).
    pub const fn negative_ttl_secs(&self) -> u32 {
        if self.negative_ttl_secs < self.ttl_secs {
            self.negative_ttl_secs
        } else {
            self.ttl_secs
        }
    }

    /// The route's own stale window in seconds, if it sets one.
    pub const fn stale_secs(&self) -> Option<u32> {
        self.stale_secs
    }

    /// The route's own stale-if-error choice, if it makes one.
    pub const fn stale_if_error(&self) -> Option<bool> {
        self.stale_if_error
    }

    /// How requests with credentials are treated.
    pub const fn auth(&self) -> AuthPolicy {
        self.auth
    }

    /// The route's own `Cache-Control` for cacheable responses, if any.
    pub const fn cache_control(&self) -> Option<&'static str> {
        self.cache_control
    }

    /// The route's own choice about client directives, if it makes one.
    pub const fn honor_client(&self) -> Option<bool> {
        self.honor_client
    }

    /// The route's identity, its handler's module path and name: what the
    /// admin API, `explain`, the metrics and the logs show.
    pub const fn route_id(&self) -> &'static str {
        self.route_id
    }

    /// The route's segment of its keys: 48 bits of the FNV-1a hash of
    /// [`route_id`](Self::route_id) in base64url, 8 characters, so that a
    /// key's length does not grow with the module path.
    pub const fn key_id(&self) -> &str {
        match core::str::from_utf8(&self.key_id) {
            Ok(id) => id,
            // Unreachable: every byte is from the base64url alphabet.
            Err(_) => "",
        }
    }

    /// Whether `other` starts its keys as this policy does (the same route
    /// segment and namespace), on any one cache.
    pub(crate) fn same_key_scope(&self, other: &Self) -> bool {
        self.key_id == other.key_id && self.namespace == other.namespace
    }

    /// Time to live of the route's entries, in seconds.
    pub const fn ttl_secs(&self) -> u32 {
        self.ttl_secs
    }

    /// The route's own body size limit, if it sets one.
    pub const fn max_body(&self) -> Option<usize> {
        self.max_body
    }

    /// Which query parameters take part in the key.
    pub const fn query(&self) -> QueryPolicy {
        self.query
    }

    /// The `vary` headers.
    pub const fn vary(&self) -> &'static [&'static str] {
        self.vary
    }

    /// The route's namespace, if any.
    pub const fn namespace(&self) -> Option<&'static str> {
        self.namespace
    }

    /// Where the request part of the key comes from.
    pub const fn key_source(&self) -> KeySource {
        self.key_source
    }

    /// The route's stale window in seconds: its own, else the cache's.
    pub(crate) fn stale_secs_under(&self, config: &CacheConfig) -> u32 {
        self.stale_secs()
            .unwrap_or_else(|| u32::try_from(config.stale.as_secs()).unwrap_or(u32::MAX))
    }

    /// The coding the route stores compressible bodies in: its own, else
    /// the cache's (`None`: stored as they are).
    pub(crate) fn compression_under(&self, config: &CacheConfig) -> Option<Encoding> {
        self.compress().unwrap_or(config.compression)
    }

    /// Whether the route runs in shadow mode: by its option, or the
    /// cache's setting for every route.
    pub(crate) fn shadows_under(&self, config: &CacheConfig) -> bool {
        self.shadow() || config.shadow
    }
}

/// Length of a route's segment of its keys ([`route_key`]).
const ROUTE_KEY_LEN: usize = 8;

/// A route's segment of its keys: 48 bits of the FNV-1a 64-bit hash of its
/// id (module path and handler name), as 8 base64url characters. Route ids
/// are fixed at compile time, not chosen by clients, so a plain hash is
/// enough; two routes of one deployment share a segment with odds of about
/// n²/2⁴⁹ (one in 500 million for a thousand routes). A prefix and a
/// namespace still separate deployments and versions.
const fn route_key(route_id: &str) -> [u8; ROUTE_KEY_LEN] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = route_id.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let mut out = [0u8; ROUTE_KEY_LEN];
    let mut j = 0;
    while j < ROUTE_KEY_LEN {
        out[j] = ALPHABET[((hash >> (58 - 6 * j)) & 63) as usize];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::RoutePolicy;

    #[test]
    fn route_keys_are_short_stable_and_distinct() {
        let key = |id: &'static str| RoutePolicy::new(id, 1).key_id().to_owned();
        // Pinned: every instance of every version must derive the same
        // segment, or a deployment's instances stop sharing entries.
        assert_eq!(key("app::get_item"), "oJbxipd8");
        assert_eq!(key("app::get_items"), "XQeHf2ig");
        let long = "a_very::deeply::nested::module::path::of_an_application::get_item";
        assert_eq!(key(long).len(), 8);
        for id in ["app::get_item", long, ""] {
            assert!(key(id)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}

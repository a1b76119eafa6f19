//! Cache key derivation.
//!
//! A key has the form
//!
//! ```text
//! <prefix>:[<namespace>:]<route id>:<method>:<host><request part>[#<header>=<value>…]
//! ```
//!
//! where `<prefix>` comes from the cache configuration, `<namespace>` from the
//! route's `namespace` option, `<route id>` names the handler
//! (`module::path::function`), `<host>` is the request's host, only on
//! routes keyed on it (handlers that can read it, or `host = true`; see
//! `cached_route`): lower-cased, without the scheme's default port, and
//! escaped. The request part is one of
//!
//! - `<path>[?<normalised query>]` (the default),
//! - `key:<value>` when the route sets `key = …`,
//! - `sha256:<hex>` when the whole key would be longer than [`MAX_KEY_LEN`],
//!
//! followed by the values of the route's `vary` headers. Everything derived
//! from the request is canonical and escaped:
//!
//! - Every byte outside RFC 3986's unreserved set and a few safe
//!   delimiters is percent-encoded with upper-case hex, and percent-encoded
//!   unreserved bytes are decoded, so `/items/%41` and `/items/A` share an entry
//!   while `:`, `*`, `#`, `=`, `&`, spaces, control bytes such as `\r\n` and
//!   non-UTF-8 bytes can never appear raw.
//! - Query parameters are split on `&`, empty pieces dropped, and the pairs
//!   sorted by name with a stable sort, so `?b=2&a=1` equals `?a=1&b=2` while
//!   repeated parameters keep their order. `&` and `=` inside names and values
//!   are escaped, so `?a=1&a=2` never equals `?a=12` or `?a=1%26a=2`.
//! - Credential headers (`authorization`, `proxy-authorization`, `cookie`,
//!   and those the cache is told of) named in `vary`, or keyed by a
//!   `private` route, contribute an HMAC-SHA-256 of their value under the
//!   deployment's key secret (`hmac.<hex>`), never the value itself or a
//!   plain hash of it.
//! - The query is keyed by the route's rule: only the parameters its
//!   `Query<T>` reads, none for a handler that reads no query, or all.
//!
//! Every entry is also listed in its request path's index set
//! (`<prefix>:#p:<path>[?<query the key keeps>]`) and in one set per tag
//! (`<prefix>:#t:<tag>`), for invalidation. On Redis these names are not
//! keys: a set lives in a shared bucket while it is small and in a sorted
//! set of its own past that (see [`IndexPlace`]). Members are scored by their
//! entry's end of life, expired ones are pruned on every add, and a set
//! holds at most `max_path_variants` (paths) or `max_tag_members` (tags)
//! live members: a fill that would overflow one is served but not stored,
//! so requests with ever new hosts or `vary` values cannot grow a set
//! without bound, and no invalidation can miss an entry.
//!
//! A request can therefore only ever produce keys that start with its own
//! route's `<prefix>:[<namespace>:]<route id>:<method>:`.

#[cfg(feature = "axum")]
pub(crate) mod fields;
pub(crate) mod host;
pub(crate) mod secret;

use crate::key::secret::KeySecret;
use sha2::{Digest, Sha256};

/// Keys longer than this many bytes are replaced by a SHA-256 hash of the
/// whole key (see the [module docs](self)).
pub const MAX_KEY_LEN: usize = 512;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Which query parameters take part in a route's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryPolicy {
    /// Every parameter (the default).
    All,
    /// None: the query string does not split entries.
    Ignore,
    /// Only the listed parameter names (compared after percent-decoding).
    Allow(&'static [&'static str]),
}

/// Builds one key step by step: scope, then the request part, then the
/// `vary` header values.
///
/// ```
/// use cache_runtime::key::{KeyBuilder, QueryPolicy};
///
/// let mut key = KeyBuilder::new("rc", None, "app::search", "GET");
/// key.path_and_query(b"/search", Some(b"page=2&utm=x"), QueryPolicy::Allow(&["page"]));
/// key.vary("accept-language", Some(b"en"));
/// assert_eq!(key.finish(), "rc:app::search:GET:/search?page=2#accept-language=en");
/// ```
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    buf: String,
    scope_len: usize,
    vary: String,
}

impl KeyBuilder {
    /// Starts the key of the route whose key segment is `route_key` (a
    /// cached route's is `RoutePolicy::key_id`, a short hash of its id) for
    /// `method` (HEAD is keyed as GET by the cache, not here).
    pub fn new(prefix: &str, namespace: Option<&str>, route_key: &str, method: &str) -> Self {
        let mut buf = String::with_capacity(128);
        buf.push_str(prefix);
        buf.push(':');
        if let Some(namespace) = namespace {
            buf.push_str(namespace);
            buf.push(':');
        }
        buf.push_str(route_key);
        buf.push(':');
        buf.push_str(method);
        buf.push(':');
        let scope_len = buf.len();
        Self {
            buf,
            scope_len,
            vary: String::new(),
        }
    }

    /// Starts a key from the `scope` of an earlier builder of the same
    /// route, prefix and method: what [`KeyBuilder::new`] writes, copied.
    pub(crate) fn from_scope(scope: &str) -> Self {
        let mut buf = String::with_capacity(128);
        buf.push_str(scope);
        Self {
            buf,
            scope_len: scope.len(),
            vary: String::new(),
        }
    }

    /// The route's part of the key space: every key of this route starts
    /// with it.
    pub fn scope(&self) -> &str {
        &self.buf[..self.scope_len]
    }

    /// Writes the request's host, lower-cased, ahead of the path (or the
    /// custom key value). Every byte but ASCII letters, digits, `.`, `-`,
    /// `_` and `~` is percent-encoded, `:` (before a port), `/` and `%`
    /// included, so no host can end where another host's path begins: a
    /// forged `Host: shop.example/a` never shares an entry with `/a` on
    /// `shop.example`.
    pub fn host(&mut self, host: &[u8]) {
        for &byte in host {
            let byte = byte.to_ascii_lowercase();
            if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
                self.buf.push(char::from(byte));
            } else {
                self.buf.push('%');
                self.buf.push(char::from(HEX[usize::from(byte >> 4)]));
                self.buf.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }

    /// Writes the canonical path and the query parameters `policy` keeps.
    pub fn path_and_query(&mut self, path: &[u8], query: Option<&[u8]>, policy: QueryPolicy) {
        push_path_and_query(&mut self.buf, path, query, policy);
    }

    /// Writes a route-defined key value (the `key = …` option) in place of
    /// the path and query.
    pub fn custom(&mut self, value: &str) {
        self.buf.push_str("key:");
        push_canonical(&mut self.buf, value.as_bytes());
    }

    /// Adds a `vary` header and its value (`None` when the request does not
    /// carry it, which differs from an empty value). A built-in credential
    /// header's value goes in as a MAC under the default secret of the
    /// default prefix (the cache itself uses its own, see `credential`).
    pub fn vary(&mut self, name: &str, value: Option<&[u8]>) {
        if is_credential(name) {
            static DEFAULT: std::sync::OnceLock<KeySecret> = std::sync::OnceLock::new();
            self.credential(
                name,
                value,
                DEFAULT
                    .get_or_init(|| KeySecret::unconfigured(crate::config::DEFAULT_PREFIX, false)),
            );
        } else {
            self.push_name(name);
            if let Some(value) = value {
                self.vary.push('=');
                push_canonical(&mut self.vary, value);
            }
        }
    }

    /// Adds a header that carries credentials and its value, as
    /// HMAC-SHA-256 under `secret`, never the value itself.
    pub(crate) fn credential(&mut self, name: &str, value: Option<&[u8]>, secret: &KeySecret) {
        self.push_name(name);
        if let Some(value) = value {
            self.vary.push_str("=hmac.");
            push_hex(&mut self.vary, &secret.digest_credential(value));
        }
    }

    fn push_name(&mut self, name: &str) {
        self.vary.push('#');
        push_canonical(&mut self.vary, name.as_bytes());
    }

    /// The finished key; longer than [`MAX_KEY_LEN`] it is replaced by
    /// `<scope>sha256:<hex of the whole key>`.
    pub fn finish(mut self) -> String {
        self.buf.push_str(&self.vary);
        if self.buf.len() > MAX_KEY_LEN {
            let digest = Sha256::digest(self.buf.as_bytes());
            self.buf.truncate(self.scope_len);
            self.buf.push_str("sha256:");
            push_hex(&mut self.buf, &digest);
        }
        self.buf
    }
}

/// Request headers that identify a user: the one list behind both rules,
/// that they enter keys only as digests, and that a request carrying one
/// shares an entry only where its route says how to key it.
pub(crate) static CREDENTIAL_HEADERS: [http::HeaderName; 3] =
    crate::config::DEFAULT_CREDENTIAL_HEADERS;

pub(crate) fn is_credential(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c.as_str()))
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)].to_ascii_lowercase()));
        out.push(char::from(
            HEX[usize::from(byte & 0xf)].to_ascii_lowercase(),
        ));
    }
}

/// Builds the default key for a request to the route whose key segment is
/// `route_key`: path and every query parameter, no namespace, no `vary`
/// headers.
///
/// `path` and `query` are the raw (still percent-encoded) request target parts;
/// `query` is `None` when the request had no `?`. The result is deterministic
/// and contained in the route's key space whatever bytes the request carries.
///
/// ```
/// use cache_runtime::key::request_key;
///
/// let a = request_key("rc", "app::get_item", "GET", b"/items/1", Some(b"b=2&a=1"));
/// let b = request_key("rc", "app::get_item", "GET", b"/items/1", Some(b"a=1&b=2"));
/// assert_eq!(a, b);
/// assert_eq!(a, "rc:app::get_item:GET:/items/1?a=1&b=2");
/// ```
pub fn request_key(
    prefix: &str,
    route_key: &str,
    method: &str,
    path: &[u8],
    query: Option<&[u8]>,
) -> String {
    let mut key = KeyBuilder::new(prefix, None, route_key, method);
    key.path_and_query(path, query, QueryPolicy::All);
    key.finish()
}

fn push_path_and_query(out: &mut String, path: &[u8], query: Option<&[u8]>, policy: QueryPolicy) {
    if path.first() != Some(&b'/') {
        // Keep the "request part starts with `/` or `%`" invariant even
        // for odd request targets; `/` itself is never encoded below.
        out.push_str("%00");
    }
    push_canonical(out, path);
    match (query, policy) {
        (None, _) | (_, QueryPolicy::Ignore) => {}
        (Some(query), QueryPolicy::All) => push_query(out, query, None),
        (Some(query), QueryPolicy::Allow(names)) => push_query(out, query, Some(names)),
    }
}

/// The key of the set listing every entry stored for a request to
/// `path`/`query` (as `policy` keys it), whatever its route, namespace or
/// `vary` values: `<prefix>:#p:<canonical path and query>`.
pub(crate) fn path_index(
    prefix: &str,
    path: &[u8],
    query: Option<&[u8]>,
    policy: QueryPolicy,
) -> String {
    let mut key = String::with_capacity(prefix.len() + 5 + path.len());
    key.push_str(prefix);
    key.push_str(":#p:");
    push_path_and_query(&mut key, path, query, policy);
    bounded_index(key, prefix)
}

/// The key of the set listing every entry carrying `tag`:
/// `<prefix>:#t:<canonical tag>`.
pub(crate) fn tag_index(prefix: &str, tag: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + 6 + tag.len());
    key.push_str(prefix);
    key.push_str(":#t:");
    push_canonical(&mut key, tag.as_bytes());
    bounded_index(key, prefix)
}

/// Index keys past [`MAX_KEY_LEN`] are hashed, like entry keys.
fn bounded_index(mut key: String, prefix: &str) -> String {
    if key.len() > MAX_KEY_LEN {
        let digest = Sha256::digest(key.as_bytes());
        let kind_end = key[prefix.len() + 2..]
            .find(':')
            .map_or(key.len(), |i| prefix.len() + 3 + i);
        key.truncate(kind_end);
        key.push_str("sha256:");
        push_hex(&mut key, &digest);
    }
    key
}

/// How many shared sorted sets the small sets are spread over. Fixed:
/// every instance of a deployment must find a set in the same bucket.
/// 2¹⁴ keeps a bucket within Redis's compact (listpack) encoding of
/// 128 members up to about a million entries with two sets each.
pub(crate) const INDEX_BUCKETS: u16 = 1 << 14;

/// Where Redis keeps the index set named `<prefix>:#p:…` or
/// `<prefix>:#t:…` (see `crate::store::index`): while it is small, in a
/// bucket shared with other sets, each member stored as `<id><entry key>`;
/// past that, in a sorted set of its own whose members are the entry keys.
/// Both are derived from a SHA-256 of the set's name, so clients cannot
/// aim two sets at one id, and share a Redis Cluster slot:
/// `<prefix>:#i{<bucket, 4 hex digits>}` and `<bucket key>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPlace {
    /// The shared sorted set of small sets.
    pub bucket: String,
    /// The set's own sorted set, once it outgrows its bucket.
    pub own: String,
    /// The set's id: 8 base64url characters before each of its members
    /// in the bucket.
    pub id: String,
}

impl IndexPlace {
    /// The place of the index set named `index` (a name that has no
    /// `:#`, which the cache never makes, is all prefix).
    pub fn of(index: &str) -> Self {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let prefix = index.split_once(":#").map_or(index, |(prefix, _)| prefix);
        let digest = Sha256::digest(index.as_bytes());
        let bucket = u16::from_be_bytes([digest[0], digest[1]]) % INDEX_BUCKETS;
        let bucket = format!("{prefix}:#i{{{bucket:04x}}}");
        let bits = digest[2..8]
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let id: String = (0..8)
            .map(|i| char::from(ALPHABET[(bits >> (42 - 6 * i) & 63) as usize]))
            .collect();
        Self {
            own: format!("{bucket}:{id}"),
            bucket,
            id,
        }
    }
}

fn push_query(key: &mut String, query: &[u8], allow: Option<&[&str]>) {
    let mut pairs: Vec<(String, Option<&[u8]>)> = query
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (canonical(&piece[..eq]), Some(&piece[eq + 1..])),
            None => (canonical(piece), None),
        })
        .filter(|(name, _)| allow.is_none_or(|names| allows(names, name)))
        .collect();
    if pairs.is_empty() {
        return;
    }
    // Stable: repeated names keep their relative order. Names compare by
    // their canonical form so `%61=1` sorts like `a=1`.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    key.push('?');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            key.push('&');
        }
        key.push_str(&name);
        if let Some(value) = value {
            key.push('=');
            push_canonical(key, value);
        }
    }
}

/// Whether the allow-list `names` keeps the parameter whose canonical
/// name is `name`.
fn allows(names: &[&str], name: &str) -> bool {
    names.iter().any(|n| canonical(n.as_bytes()) == name)
}

/// Whether the query parameter named `name` (as the request spells it)
/// takes part in keys under `rule`: what `GET /explain` reports.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) fn keeps_param(rule: QueryPolicy, name: &[u8]) -> bool {
    match rule {
        QueryPolicy::All => true,
        QueryPolicy::Ignore => false,
        QueryPolicy::Allow(names) => allows(names, &canonical(name)),
    }
}

fn canonical(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_canonical(&mut out, bytes);
    out
}

/// Unreserved characters (RFC 3986 §2.3): never encoded, and decoded when
/// they arrive percent-encoded.
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes kept raw in addition to the unreserved ones. Everything that the
/// key format itself uses as a separator (`:`, `?`, `&`, `=`, `#`) and every
/// byte that a store or a log could misread (`*`, space, controls, non-ASCII)
/// is excluded.
const fn is_kept(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'!' | b'$' | b'\'' | b'(' | b')' | b',' | b';' | b'@' | b'+'
    )
}

/// Bytes copied into a key unchanged: [`is_unreserved`] or [`is_kept`],
/// as a table, since every byte of every request target is checked.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation)]
        let byte = b as u8;
        table[b] = is_unreserved(byte) || is_kept(byte);
        b += 1;
    }
    table
};

// `push_canonical` relies on it: no byte past ASCII is `PLAIN`.
const _: () = {
    let mut b = 0x80;
    while b < 256 {
        assert!(!PLAIN[b], "PLAIN marks a byte past ASCII");
        b += 1;
    }
};

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

fn push_canonical(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Copy the longest run that needs no change in one go.
        let run = bytes[i..]
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(bytes.len() - i);
        if run > 0 {
            let plain = &bytes[i..i + run];
            // SAFETY: every byte of the run is one `PLAIN` marks, and
            // `PLAIN` marks only ASCII bytes (asserted at compile time below
            // its definition), so the run is valid UTF-8. Validating it
            // again cost a third of the key's path on every request.
            out.push_str(unsafe { std::str::from_utf8_unchecked(plain) });
            i += run;
            continue;
        }
        let b = bytes[i];
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex_val),
                bytes.get(i + 2).copied().and_then(hex_val),
            ) {
                let decoded = (hi << 4) | lo;
                if is_unreserved(decoded) {
                    out.push(char::from(decoded));
                } else {
                    push_encoded(out, decoded);
                }
                i += 3;
                continue;
            }
        }
        // A stray `%` is data, not an escape; everything else is escaped.
        push_encoded(out, b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str, query: Option<&str>) -> String {
        request_key(
            "p",
            "m::h",
            "GET",
            path.as_bytes(),
            query.map(str::as_bytes),
        )
    }

    #[test]
    fn format_is_prefix_route_method_path_query() {
        assert_eq!(key("/items/42", None), "p:m::h:GET:/items/42");
        assert_eq!(key("/items/42", Some("x=1")), "p:m::h:GET:/items/42?x=1");
    }

    #[test]
    fn query_order_does_not_matter_but_repeats_keep_order() {
        assert_eq!(key("/s", Some("a=1&b=2")), key("/s", Some("b=2&a=1")));
        assert_eq!(key("/s", Some("b=0&a=1&a=2")), "p:m::h:GET:/s?a=1&a=2&b=0");
        assert_ne!(key("/s", Some("a=1&a=2")), key("/s", Some("a=2&a=1")));
    }

    #[test]
    fn repeated_params_never_equal_concatenation() {
        assert_ne!(key("/s", Some("a=1&a=2")), key("/s", Some("a=12")));
        assert_ne!(key("/s", Some("a=1&a=2")), key("/s", Some("a=1%26a=2")));
        assert_ne!(
            key("/s", Some("a=1%3D2")),
            key("/s", Some("a=1=2")).replace("%3D", "=")
        );
    }

    #[test]
    fn empty_pieces_are_dropped_and_flag_differs_from_empty_value() {
        assert_eq!(key("/s", Some("&&a=1&")), key("/s", Some("a=1")));
        assert_eq!(key("/s", Some("")), key("/s", None));
        assert_ne!(key("/s", Some("a")), key("/s", Some("a=")));
    }

    #[test]
    fn percent_encoding_is_canonical() {
        assert_eq!(key("/items/%41", None), key("/items/A", None));
        assert_eq!(key("/a%2fb", None), key("/a%2Fb", None));
        assert_ne!(key("/a%2Fb", None), key("/a/b", None));
        assert_eq!(key("/s", Some("q=%7e")), key("/s", Some("q=~")));
        assert_eq!(key("/100%", None), "p:m::h:GET:/100%25");
    }

    #[test]
    fn hostile_bytes_stay_inside_the_route_key_space() {
        let scope = "p:m::h:GET:";
        let nasty: &[&[u8]] = &[
            b"/a:b*c",
            b"/x\r\nFLUSHALL\r\n",
            b"/\xff\xfe",
            b"/a b?c#d",
            b"*",
            b"",
            b"../../etc",
            b"/%0D%0A",
        ];
        for path in nasty {
            for query in [None, Some(&b"k:*=v\r\n&#=\xff"[..])] {
                let k = request_key("p", "m::h", "GET", path, query);
                assert!(k.starts_with(scope), "{k:?}");
                let rest = &k[scope.len()..];
                assert!(rest.starts_with('/') || rest.starts_with('%'), "{k:?}");
                assert!(
                    rest.bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b'*' | b'#')),
                    "{k:?}"
                );
            }
        }
    }

    #[test]
    fn long_keys_are_hashed_within_scope() {
        let long = format!("/{}", "x".repeat(MAX_KEY_LEN));
        let k = key(&long, None);
        assert!(k.starts_with("p:m::h:GET:sha256:"), "{k}");
        assert_eq!(k.len(), "p:m::h:GET:sha256:".len() + 64);
        let other = key(&format!("{long}y"), None);
        assert_ne!(k, other);
        assert_eq!(k, key(&long, None));
    }

    #[test]
    fn routes_and_methods_are_separate_spaces() {
        let a = request_key("p", "m::a", "GET", b"/x", None);
        let b = request_key("p", "m::b", "GET", b"/x", None);
        assert_ne!(a, b);
    }

    fn build(f: impl FnOnce(&mut KeyBuilder)) -> String {
        let mut k = KeyBuilder::new("p", None, "m::h", "GET");
        f(&mut k);
        k.finish()
    }

    #[test]
    fn query_policies_select_parameters() {
        let q = Some(&b"utm=1&page=2&limit=10&page=3"[..]);
        let all = build(|k| k.path_and_query(b"/s", q, QueryPolicy::All));
        assert_eq!(all, "p:m::h:GET:/s?limit=10&page=2&page=3&utm=1");
        let none = build(|k| k.path_and_query(b"/s", q, QueryPolicy::Ignore));
        assert_eq!(none, "p:m::h:GET:/s");
        let some = build(|k| k.path_and_query(b"/s", q, QueryPolicy::Allow(&["page", "limit"])));
        assert_eq!(some, "p:m::h:GET:/s?limit=10&page=2&page=3");
        let encoded =
            build(|k| k.path_and_query(b"/s", Some(b"%70age=2"), QueryPolicy::Allow(&["page"])));
        assert_eq!(encoded, "p:m::h:GET:/s?page=2");
    }

    #[test]
    fn namespace_custom_key_and_vary_are_escaped_and_ordered() {
        let mut k = KeyBuilder::new("p", Some("v2"), "m::h", "GET");
        assert_eq!(k.scope(), "p:v2:m::h:GET:");
        k.vary("accept-language", Some(b"en#x=1"));
        k.custom("item:42 *\r\n");
        k.vary("x-tenant", None);
        assert_eq!(
            k.finish(),
            "p:v2:m::h:GET:key:item%3A42%20%2A%0D%0A#accept-language=en%23x%3D1#x-tenant"
        );
    }

    #[test]
    fn absent_and_empty_vary_values_differ() {
        let absent = build(|k| k.vary("x", None));
        let empty = build(|k| k.vary("x", Some(b"")));
        assert_ne!(absent, empty);
    }

    #[test]
    fn index_keys_are_canonical_and_bounded() {
        assert_eq!(
            path_index("rc", b"/items/%34%32", Some(b"b=1&a=2"), QueryPolicy::All),
            "rc:#p:/items/42?a=2&b=1"
        );
        assert_eq!(
            path_index(
                "rc",
                b"/s",
                Some(b"q=x&page=2"),
                QueryPolicy::Allow(&["page"])
            ),
            "rc:#p:/s?page=2"
        );
        assert_eq!(tag_index("rc", "item:42 x"), "rc:#t:item%3A42%20x");
        let long = tag_index("rc", &"x".repeat(1000));
        assert!(long.starts_with("rc:#t:sha256:"), "{long}");
        assert_eq!(long.len(), "rc:#t:sha256:".len() + 64);
    }

    #[test]
    fn credentials_are_hashed_never_kept() {
        let key = build(|k| k.vary("Authorization", Some(b"Bearer secret-token")));
        assert!(!key.contains("secret"), "{key}");
        assert!(key.contains("#Authorization=hmac."), "{key}");
        let other = build(|k| k.vary("Authorization", Some(b"Bearer other-token")));
        assert_ne!(key, other);
        let cookie = build(|k| k.vary("cookie", Some(b"session=abc")));
        assert!(!cookie.contains("abc"), "{cookie}");
    }
}

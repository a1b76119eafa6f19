//! Cache key derivation.
//!
//! A key has the form
//!
//! ```text
//! <prefix>:<route id>:<method>:<path>[?<normalised query>]
//! ```
//!
//! where `<prefix>` comes from the cache configuration, `<route id>` names the
//! handler (`module::path::function`), and everything after the method is
//! derived from the request in a canonical, escaped form:
//!
//! - Every byte outside RFC 3986's unreserved set and a few safe
//!   delimiters is percent-encoded with upper-case hex, and percent-encoded
//!   unreserved bytes are decoded, so `/items/%41` and `/items/A` share an entry
//!   while `:`, `*`, `#`, spaces, control bytes such as `\r\n` and non-UTF-8
//!   bytes can never appear raw.
//! - Query parameters are split on `&`, empty pieces dropped, and the pairs
//!   sorted by name with a stable sort, so `?b=2&a=1` equals `?a=1&b=2` while
//!   repeated parameters keep their order. `&` and `=` inside names and values
//!   are escaped, so `?a=1&a=2` never equals `?a=12` or `?a=1%26a=2`.
//! - The request-derived part always starts with `/` or `%`; a key longer than
//!   [`MAX_KEY_LEN`] is replaced by `<prefix>:<route id>:<method>:sha256:<hex>`
//!   (a hash of the whole key), which cannot collide with an unhashed key.
//!
//! A request can therefore only ever produce keys that start with its own
//! route's `<prefix>:<route id>:<method>:`.

use sha2::{Digest, Sha256};

/// Keys longer than this many bytes are replaced by a SHA-256 hash of the
/// whole key (see the [module docs](self)).
pub const MAX_KEY_LEN: usize = 512;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Builds the cache key for a request to the route `route_id`.
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
    route_id: &str,
    method: &str,
    path: &[u8],
    query: Option<&[u8]>,
) -> String {
    let mut key = String::with_capacity(
        prefix.len()
            + route_id.len()
            + method.len()
            + path.len()
            + 8
            + query.map_or(0, <[u8]>::len),
    );
    key.push_str(prefix);
    key.push(':');
    key.push_str(route_id);
    key.push(':');
    key.push_str(method);
    key.push(':');
    let scope_len = key.len();

    if path.first() != Some(&b'/') {
        // Keep the "request part starts with `/` or `%`" invariant even for
        // odd request targets; `/` itself is never encoded below.
        key.push_str("%00");
    }
    push_canonical(&mut key, path);
    if let Some(query) = query {
        push_query(&mut key, query);
    }

    if key.len() > MAX_KEY_LEN {
        let digest = Sha256::digest(key.as_bytes());
        key.truncate(scope_len);
        key.push_str("sha256:");
        for byte in digest {
            key.push(char::from(HEX[usize::from(byte >> 4)].to_ascii_lowercase()));
            key.push(char::from(
                HEX[usize::from(byte & 0xf)].to_ascii_lowercase(),
            ));
        }
    }
    key
}

fn push_query(key: &mut String, query: &[u8]) {
    let mut pairs: Vec<(&[u8], Option<&[u8]>)> = query
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], Some(&piece[eq + 1..])),
            None => (piece, None),
        })
        .collect();
    if pairs.is_empty() {
        return;
    }
    // Stable: repeated names keep their relative order. Names compare by
    // their canonical form so `%61=1` sorts like `a=1`.
    if pairs.len() > 1 {
        pairs.sort_by_cached_key(|(name, _)| canonical(name));
    }
    key.push('?');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            key.push('&');
        }
        push_canonical(key, name);
        if let Some(value) = value {
            key.push('=');
            push_canonical(key, value);
        }
    }
}

fn canonical(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_canonical(&mut out, bytes);
    out
}

/// Unreserved characters (RFC 3986 §2.3): never encoded, and decoded when
/// they arrive percent-encoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes kept raw in addition to the unreserved ones. Everything that the
/// key format itself uses as a separator (`:`, `?`, `&`, `=`, `#`) and every
/// byte that a store or a log could misread (`*`, space, controls, non-ASCII)
/// is excluded.
fn is_kept(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'!' | b'$' | b'\'' | b'(' | b')' | b',' | b';' | b'@' | b'+'
    )
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

fn push_canonical(out: &mut String, bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
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
            // A stray `%` is data, not an escape.
            push_encoded(out, b);
        } else if is_unreserved(b) || is_kept(b) {
            out.push(char::from(b));
        } else {
            push_encoded(out, b);
        }
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
}

//! The response headers the cache writes on every answer: `x-cache`,
//! `Cache-Status`, `Cache-Control` and `Vary`.

use crate::http::semantics::{header_value, push_decimal};
use crate::policy::RoutePolicy;
use http::{header, HeaderMap, HeaderName, HeaderValue};

/// The response header saying how the cache answered: `HIT`, `STALE` or
/// `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub(crate) const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
pub(crate) const MISS: HeaderValue = HeaderValue::from_static("MISS");

/// What the cache said of a response it answered, read back from its
/// headers (by the explain header and warm-up): the `x-cache` value (`""`
/// without one), and the `Cache-Status` parameters after the cache's name,
/// trimmed.
pub(crate) fn answered(headers: &HeaderMap) -> (&str, Vec<&str>) {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let params = text(CACHE_STATUS)
        .split(';')
        .skip(1)
        .map(str::trim)
        .collect();
    (text(X_CACHE), params)
}

/// Sets the `Cache-Control` the cache sends with a cacheable response:
/// the handler's own, else the route's, else `public` with the remaining
/// lifetime. On a route whose keys carry a credential (`personal`, see
/// `keys_credentials` in the adapter) it is always `private`: a handler's or
/// route's `public` or `s-maxage` would let a shared cache downstream
/// serve one user's response to another.
pub(crate) fn set_cache_control(
    headers: &mut HeaderMap,
    policy: &RoutePolicy,
    personal: bool,
    remaining: u64,
) {
    let value = match headers.get(header::CACHE_CONTROL) {
        Some(own) if personal => match make_private(own.as_bytes()) {
            Some(private) => private,
            None => return,
        },
        Some(_) => return,
        None => generated_cache_control(policy, personal, remaining),
    };
    headers.insert(header::CACHE_CONTROL, value);
}

/// The generated `Cache-Control`: the route's own (made `private` on a
/// personal route), or `public`/`private` with the remaining lifetime.
fn generated_cache_control(policy: &RoutePolicy, personal: bool, remaining: u64) -> HeaderValue {
    if let Some(value) = policy.cache_control() {
        if personal {
            if let Some(private) = make_private(value.as_bytes()) {
                return private;
            }
        }
        return HeaderValue::from_static(value);
    }
    let mut value = String::with_capacity(32);
    value.push_str(if personal {
        "private, max-age="
    } else {
        "public, max-age="
    });
    push_decimal(&mut value, remaining);
    header_value(value)
}

/// `cache_control` with `private` in place of `public`, `s-maxage` and
/// `proxy-revalidate` (shared caches' directives); `None` when it already
/// says `private` or `no-store`.
fn make_private(cache_control: &[u8]) -> Option<HeaderValue> {
    let text = String::from_utf8_lossy(cache_control);
    let directives: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let name = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    if directives
        .iter()
        .any(|d| matches!(name(d).as_str(), "private" | "no-store"))
    {
        return None;
    }
    let mut out = String::from("private");
    for directive in directives {
        if !matches!(
            name(directive).as_str(),
            "public" | "s-maxage" | "proxy-revalidate"
        ) {
            out.push_str(", ");
            out.push_str(directive);
        }
    }
    Some(header_value(out))
}

/// Adds the route's `vary` headers to the response's `Vary`, once each.
pub(crate) fn add_vary(headers: &mut HeaderMap, names: &[&'static str]) {
    for name in names {
        let present = headers.get_all(header::VARY).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|h| h.trim().eq_ignore_ascii_case(name)))
        });
        if !present {
            headers.append(header::VARY, HeaderValue::from_static(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: RoutePolicy = RoutePolicy::new("t::plain", 60);

    #[test]
    fn generated_cache_control_reflects_route_and_remaining_life() {
        assert_eq!(
            generated_cache_control(&PLAIN, false, 42),
            "public, max-age=42"
        );
        assert_eq!(
            generated_cache_control(&PLAIN, true, 7),
            "private, max-age=7"
        );
        const OWN: RoutePolicy =
            RoutePolicy::new("t::own", 60).with_cache_control("public, s-maxage=60");
        assert_eq!(
            generated_cache_control(&OWN, false, 1),
            "public, s-maxage=60"
        );
        assert_eq!(generated_cache_control(&OWN, true, 1), "private");
    }

    #[test]
    fn a_personal_response_never_goes_out_public() {
        let set = |own: Option<&'static str>, personal: bool| {
            let mut headers = HeaderMap::new();
            if let Some(own) = own {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(own));
            }
            set_cache_control(&mut headers, &PLAIN, personal, 30);
            headers[header::CACHE_CONTROL].to_str().unwrap().to_owned()
        };
        assert_eq!(set(None, false), "public, max-age=30");
        assert_eq!(set(None, true), "private, max-age=30");
        assert_eq!(set(Some("public, max-age=60"), false), "public, max-age=60");
        assert_eq!(
            set(
                Some("public, max-age=60, s-maxage=600, must-revalidate"),
                true
            ),
            "private, max-age=60, must-revalidate"
        );
        assert_eq!(set(Some("private, max-age=5"), true), "private, max-age=5");
        assert_eq!(set(Some("max-age=5"), true), "private, max-age=5");
    }
}

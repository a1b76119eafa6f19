//! HTTP caching semantics on header maps: `Cache-Control` directives
//! (RFC 9111 §5.2), entity tags and `If-None-Match` (RFC 9110 §8.8.3,
//! §13.1.2), and the `Cache-Status` header (RFC 9211).

use crate::observe::{Bypass, NotStored};
use http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The `Cache-Control` directives the cache acts on, from every
/// `Cache-Control` field of a message. Unknown directives are ignored; an
/// unparsable field counts as `no-store`, the safe reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct CacheControl {
    /// `no-store`.
    pub(crate) no_store: bool,
    /// `no-cache` (also `Pragma: no-cache` on requests).
    pub(crate) no_cache: bool,
    /// `private` (with or without a field list).
    pub(crate) private: bool,
    /// `max-age=N`.
    pub(crate) max_age: Option<u64>,
    /// `s-maxage=N` (responses only; takes precedence for a shared cache).
    pub(crate) s_maxage: Option<u64>,
    /// `stale-while-revalidate=N` (RFC 5861 §3).
    pub(crate) stale_while_revalidate: Option<u64>,
    /// `stale-if-error=N` (RFC 5861 §4).
    pub(crate) stale_if_error: Option<u64>,
}

impl CacheControl {
    /// Parses the `Cache-Control` fields of `headers`.
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        Self::parse_field(headers, &header::CACHE_CONTROL)
    }

    /// Parses the fields named `name`: `Cache-Control`, or a targeted
    /// field such as `CDN-Cache-Control` (RFC 9213 §2, same directives).
    pub(crate) fn parse_field(headers: &HeaderMap, name: &header::HeaderName) -> Self {
        let mut cc = Self::default();
        for value in headers.get_all(name) {
            let Ok(value) = value.to_str() else {
                cc.no_store = true;
                continue;
            };
            for directive in value.split(',') {
                let (name, arg) = match directive.split_once('=') {
                    Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
                    None => (directive.trim(), None),
                };
                let seconds = || arg.and_then(|a| a.parse::<u64>().ok());
                if name.eq_ignore_ascii_case("no-store") {
                    cc.no_store = true;
                } else if name.eq_ignore_ascii_case("no-cache") {
                    cc.no_cache = true;
                } else if name.eq_ignore_ascii_case("private") {
                    cc.private = true;
                } else if name.eq_ignore_ascii_case("max-age") {
                    // An invalid value is treated as stale (RFC 9111 §4.2.1).
                    cc.max_age = Some(seconds().unwrap_or(0));
                } else if name.eq_ignore_ascii_case("s-maxage") {
                    cc.s_maxage = Some(seconds().unwrap_or(0));
                } else if name.eq_ignore_ascii_case("stale-while-revalidate") {
                    cc.stale_while_revalidate = seconds();
                } else if name.eq_ignore_ascii_case("stale-if-error") {
                    cc.stale_if_error = seconds();
                }
            }
        }
        cc
    }

    /// Parses a request's directives, counting `Pragma: no-cache` as
    /// `no-cache` when there is no `Cache-Control` (RFC 9111 §5.4).
    pub(crate) fn parse_request(headers: &HeaderMap) -> Self {
        let mut cc = Self::parse(headers);
        if !headers.contains_key(header::CACHE_CONTROL) {
            cc.no_cache |= headers.get_all(header::PRAGMA).iter().any(|v| {
                v.to_str().is_ok_and(|v| {
                    v.split(',')
                        .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
                })
            });
        }
        cc
    }

    /// The freshness lifetime a shared cache takes from a response:
    /// `s-maxage`, else `max-age`.
    pub(crate) fn shared_max_age(&self) -> Option<u64> {
        self.s_maxage.or(self.max_age)
    }

    /// Whether a client asked not to be answered from a stored response
    /// (`no-cache` or `max-age=0`).
    pub(crate) fn wants_revalidation(&self) -> bool {
        self.no_cache || self.max_age == Some(0)
    }
}

/// A strong entity tag for `body`: 128 bits of its SHA-256, quoted.
pub(crate) fn etag_for(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether an `If-None-Match` field matches `etag`: `*`, or any listed tag
/// equal to it under the weak comparison RFC 9110 §13.1.2 prescribes for
/// `If-None-Match` (`W/"x"` matches `"x"`). A malformed list never matches.
pub(crate) fn if_none_match(field: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(field) = field.to_str() else {
        return false;
    };
    let Some(ours) = opaque_tag(etag.to_str().unwrap_or("")) else {
        return false;
    };
    let field = field.trim();
    if field == "*" {
        return true;
    }
    field
        .split(',')
        .filter_map(|tag| opaque_tag(tag.trim()))
        .any(|theirs| theirs == ours)
}

/// The quoted opaque part of an entity tag, without a `W/` prefix.
fn opaque_tag(tag: &str) -> Option<&str> {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    (tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"')).then_some(tag)
}

/// How the cache handled a request, for `Cache-Status` (RFC 9211).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CacheStatus {
    /// Served from the cache; the entry has `ttl` seconds of freshness left.
    Hit {
        /// Remaining freshness lifetime in seconds.
        ttl: u64,
    },
    /// Served from an entry another request computed while this one
    /// waited (`collapsed`).
    Collapsed {
        /// Remaining freshness lifetime in seconds.
        ttl: u64,
    },
    /// Served past its lifetime (inside the stale window) while a
    /// background refresh runs; `ttl` is reported negative.
    Stale {
        /// Seconds past the entry's lifetime.
        over: u64,
    },
    /// A stale entry the handler confirmed with a `304` (revalidation):
    /// refreshed, and served with `ttl` seconds of freshness.
    Revalidated {
        /// Remaining freshness lifetime in seconds.
        ttl: u64,
        /// The refreshed entry was stored.
        stored: bool,
    },
    /// Forwarded because nothing was stored for the request's key.
    UriMiss {
        /// The response was stored.
        stored: bool,
        /// Why it was not stored, when it was not.
        detail: Option<NotStored>,
    },
    /// Forwarded because the backend could not be consulted.
    BackendError,
    /// Forwarded because the client's directives asked for it.
    Request {
        /// The response was stored.
        stored: bool,
    },
    /// Not looked up at all, for the reason given.
    Bypass {
        /// Why (`method`, `authorization`, `cookie`).
        reason: Bypass,
    },
}

/// The `Cache-Status` field value for `outcome` under the cache's `name`.
pub(crate) fn cache_status(name: &str, outcome: CacheStatus) -> HeaderValue {
    // Built by hand: `format!` costs more than the rest of the header
    // handling.
    let mut value = String::with_capacity(name.len() + 40);
    value.push_str(name);
    match outcome {
        CacheStatus::Hit { ttl } => {
            value.push_str("; hit; ttl=");
            push_decimal(&mut value, ttl);
        }
        CacheStatus::Collapsed { ttl } => {
            value.push_str("; hit; ttl=");
            push_decimal(&mut value, ttl);
            value.push_str("; collapsed");
        }
        CacheStatus::Stale { over } => {
            value.push_str("; hit; ttl=-");
            push_decimal(&mut value, over);
        }
        CacheStatus::Revalidated { ttl, stored } => {
            value.push_str("; fwd=stale; fwd-status=304");
            if stored {
                value.push_str("; stored");
            }
            value.push_str("; ttl=");
            push_decimal(&mut value, ttl);
        }
        CacheStatus::UriMiss { stored: true, .. } => value.push_str("; fwd=uri-miss; stored"),
        CacheStatus::UriMiss {
            stored: false,
            detail,
        } => {
            value.push_str("; fwd=uri-miss");
            if let Some(detail) = detail {
                value.push_str("; detail=");
                value.push_str(detail.detail());
            }
        }
        CacheStatus::BackendError => value.push_str("; fwd=miss; detail=backend-error"),
        CacheStatus::Request { stored } => {
            value.push_str("; fwd=request");
            if stored {
                value.push_str("; stored");
            }
        }
        CacheStatus::Bypass { reason } => {
            value.push_str("; fwd=bypass; detail=");
            value.push_str(reason.as_str());
        }
    }
    header_value(value)
}

/// A header value from text the cache built (no copy); a value that is
/// not one (a configured name with a control character) is dropped to a
/// harmless constant rather than failing the response.
pub(crate) fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text.into_bytes()))
        .unwrap_or_else(|_| HeaderValue::from_static("route-cache"))
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Refusal;
    use http::HeaderName;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn cache_control_directives_are_read_case_insensitively_across_fields() {
        let cc = CacheControl::parse(&headers(&[
            ("cache-control", "Public, MAX-AGE=60"),
            ("cache-control", "s-maxage=\"120\", private=\"set-cookie\""),
        ]));
        assert_eq!(cc.max_age, Some(60));
        assert_eq!(cc.s_maxage, Some(120));
        assert_eq!(cc.shared_max_age(), Some(120));
        assert!(cc.private && !cc.no_store && !cc.no_cache);
        assert_eq!(
            CacheControl::parse(&headers(&[("cache-control", "max-age=soon")])).max_age,
            Some(0)
        );
    }

    #[test]
    fn request_directives_include_pragma() {
        assert!(
            CacheControl::parse_request(&headers(&[("pragma", "no-cache")])).wants_revalidation()
        );
        assert!(
            CacheControl::parse_request(&headers(&[("cache-control", "max-age=0")]))
                .wants_revalidation()
        );
        assert!(
            !CacheControl::parse_request(&headers(&[("cache-control", "max-age=10")]))
                .wants_revalidation()
        );
        // Cache-Control wins over Pragma.
        let both = headers(&[("cache-control", "max-age=10"), ("pragma", "no-cache")]);
        assert!(!CacheControl::parse_request(&both).wants_revalidation());
    }

    #[test]
    fn etags_are_strong_and_content_derived() {
        let a = etag_for(b"hello");
        assert_eq!(a.len(), 34);
        assert!(a.to_str().unwrap().starts_with('"'));
        assert_eq!(a, etag_for(b"hello"));
        assert_ne!(a, etag_for(b"hello!"));
    }

    #[test]
    fn if_none_match_handles_lists_star_and_weak_tags() {
        let etag = HeaderValue::from_static("\"abc\"");
        let check = |field: &'static str| if_none_match(&HeaderValue::from_static(field), &etag);
        assert!(check("\"abc\""));
        assert!(check("\"x\", \"abc\""));
        assert!(check("*"));
        assert!(check("W/\"abc\""));
        assert!(!check("\"abcd\""));
        assert!(!check("abc"));
        assert!(!check(""));
    }

    #[test]
    fn cache_status_values_follow_rfc_9211() {
        let s = |o| cache_status("rc", o).to_str().unwrap().to_owned();
        assert_eq!(s(CacheStatus::Hit { ttl: 5 }), "rc; hit; ttl=5");
        assert_eq!(
            s(CacheStatus::Collapsed { ttl: 5 }),
            "rc; hit; ttl=5; collapsed"
        );
        assert_eq!(s(CacheStatus::Stale { over: 3 }), "rc; hit; ttl=-3");
        assert_eq!(
            s(CacheStatus::UriMiss {
                stored: true,
                detail: None
            }),
            "rc; fwd=uri-miss; stored"
        );
        assert_eq!(
            s(CacheStatus::UriMiss {
                stored: false,
                detail: Some(NotStored::Refused(Refusal::SetCookie))
            }),
            "rc; fwd=uri-miss; detail=set-cookie"
        );
        assert_eq!(
            s(CacheStatus::Bypass {
                reason: Bypass::Authorization
            }),
            "rc; fwd=bypass; detail=authorization"
        );
        assert_eq!(
            s(CacheStatus::BackendError),
            "rc; fwd=miss; detail=backend-error"
        );
        assert_eq!(
            s(CacheStatus::Request { stored: true }),
            "rc; fwd=request; stored"
        );
    }
}

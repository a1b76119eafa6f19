//! How long a handler's response may be reused, by its own headers (RFC
//! 9111 §4.2): the freshness lifetime from `s-maxage`, `max-age` or
//! `Expires`, less the `Age` it already has; and HTTP dates.

use crate::semantics::CacheControl;
use http::{header, HeaderMap, HeaderName, HeaderValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The freshness lifetime the response's headers give it in a shared
/// cache, in seconds (RFC 9111 §4.2.1): `s-maxage`, else `max-age`, else
/// `Expires` minus `Date` (or minus `now` without a valid `Date`). A past
/// or invalid `Expires` (such as `0`) is a lifetime of 0 (§5.3). `None`
/// when the response states none.
///
/// `cc` are the directives that govern this cache ([`governing`]); with a
/// targeted field (`targeted`, RFC 9213 §2.2) `Expires` does not count.
pub(crate) fn lifetime(
    cc: &CacheControl,
    targeted: bool,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<u64> {
    if let Some(secs) = cc.shared_max_age() {
        return Some(secs);
    }
    if targeted {
        return None;
    }
    let expires = headers.get(header::EXPIRES)?;
    let Some(expires) = parse_date(expires) else {
        return Some(0);
    };
    let date = headers
        .get(header::DATE)
        .and_then(parse_date)
        .unwrap_or(now);
    Some(expires.duration_since(date).map_or(0, |d| d.as_secs()))
}

/// The directives that govern this cache for a response: those of the
/// targeted field `target` (RFC 9213) when the response carries it, else
/// `Cache-Control`; and whether they are the targeted field's.
pub(crate) fn governing(headers: &HeaderMap, target: Option<&HeaderName>) -> (CacheControl, bool) {
    match target {
        Some(name) if headers.contains_key(name) => {
            (CacheControl::parse_field(headers, name), true)
        }
        _ => (CacheControl::parse(headers), false),
    }
}

/// The age the response already has (RFC 9111 §5.1): its `Age` in
/// seconds; an invalid value is ignored.
pub(crate) fn age(headers: &HeaderMap) -> u64 {
    headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// The response's age when the cache receives it at `now` (RFC 9111
/// §4.2.3): the larger of its `Age` and its apparent age, the time since
/// its `Date` (0 for a date in the future). Stored as born that long ago,
/// a hit then carries the handler's own `Date`.
pub(crate) fn initial_age(headers: &HeaderMap, now: SystemTime) -> u64 {
    let apparent = headers
        .get(header::DATE)
        .and_then(parse_date)
        .and_then(|date| now.duration_since(date).ok())
        .map_or(0, |d| d.as_secs());
    age(headers).max(apparent)
}

/// An HTTP date (RFC 9110 §5.6.7), any of its three forms.
pub(crate) fn parse_date(value: &HeaderValue) -> Option<SystemTime> {
    httpdate::parse_http_date(value.to_str().ok()?.trim()).ok()
}

/// `ms` (since the Unix epoch) as an IMF-fixdate.
pub(crate) fn format_date(ms: u64) -> HeaderValue {
    let time = UNIX_EPOCH + Duration::from_millis(ms);
    HeaderValue::from_str(&httpdate::fmt_http_date(time))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
        let (cc, targeted) = governing(headers, None);
        super::lifetime(&cc, targeted, headers, now)
    }

    #[test]
    fn a_targeted_field_governs_and_ignores_expires() {
        let cdn = HeaderName::from_static("cdn-cache-control");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        let h = headers(&[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=30"),
            ("expires", &later),
        ]);
        let (cc, targeted) = governing(&h, Some(&cdn));
        assert!(targeted && !cc.no_store);
        assert_eq!(super::lifetime(&cc, targeted, &h, now), Some(30));
        let only_expires = headers(&[("cdn-cache-control", "public"), ("expires", &later)]);
        let (cc, targeted) = governing(&only_expires, Some(&cdn));
        assert_eq!(super::lifetime(&cc, targeted, &only_expires, now), None);
        let (cc, _) = governing(&h, None);
        assert!(cc.no_store, "targeting off: Cache-Control governs");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn lifetimes_follow_rfc_9111() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(lifetime(&headers(&[]), now), None);
        assert_eq!(
            lifetime(&headers(&[("cache-control", "max-age=60")]), now),
            Some(60)
        );
        assert_eq!(
            lifetime(
                &headers(&[("cache-control", "max-age=60, s-maxage=10")]),
                now
            ),
            Some(10),
            "s-maxage wins in a shared cache (§5.2.2.10)"
        );
        assert_eq!(
            lifetime(
                &headers(&[("cache-control", "max-age=60"), ("expires", &earlier)]),
                now
            ),
            Some(60),
            "max-age wins over Expires (§5.3)"
        );
        assert_eq!(
            lifetime(&headers(&[("expires", &later), ("date", &date)]), now),
            Some(120)
        );
        assert_eq!(lifetime(&headers(&[("expires", &later)]), now), Some(120));
        assert_eq!(lifetime(&headers(&[("expires", &earlier)]), now), Some(0));
        assert_eq!(
            lifetime(&headers(&[("expires", "0")]), now),
            Some(0),
            "invalid is past"
        );
        assert_eq!(age(&headers(&[("age", "3000")])), 3000);
        let old = httpdate::fmt_http_date(now - Duration::from_secs(100));
        assert_eq!(
            initial_age(&headers(&[("date", &old)]), now),
            100,
            "apparent age"
        );
        assert_eq!(
            initial_age(&headers(&[("date", &old), ("age", "300")]), now),
            300
        );
        assert_eq!(
            initial_age(&headers(&[("date", &later)]), now),
            0,
            "a future date"
        );
        assert_eq!(age(&headers(&[("age", "soon")])), 0);
    }

    #[test]
    fn dates_round_trip() {
        let value = format_date(1_700_000_000_000);
        assert_eq!(value, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(
            parse_date(&value),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }
}

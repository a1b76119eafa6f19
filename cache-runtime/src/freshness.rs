//! How long a handler's response may be reused, by its own headers (RFC
//! 9111 §4.2): the freshness lifetime from `s-maxage`, `max-age` or
//! `Expires`, less the `Age` it already has; and HTTP dates.

use crate::semantics::CacheControl;
use http::{header, HeaderMap, HeaderValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The freshness lifetime the response's headers give it in a shared
/// cache, in seconds (RFC 9111 §4.2.1): `s-maxage`, else `max-age`, else
/// `Expires` minus `Date` (or minus `now` without a valid `Date`). A past
/// or invalid `Expires` (such as `0`) is a lifetime of 0 (§5.3). `None`
/// when the response states none.
pub(crate) fn lifetime(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    if let Some(secs) = CacheControl::parse(headers).shared_max_age() {
        return Some(secs);
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

/// The age the response already has (RFC 9111 §5.1): its `Age` in
/// seconds; an invalid value is ignored.
pub(crate) fn age(headers: &HeaderMap) -> u64 {
    headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
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

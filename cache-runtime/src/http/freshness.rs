//! How long a handler's response may be reused, by its own headers (RFC
//! 9111 §4.2): the freshness lifetime from `s-maxage`, `max-age` or
//! `Expires`, less the `Age` it already has; and HTTP dates.

use crate::http::semantics::CacheControl;
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
        // A targeted field is a structured dictionary (RFC 9213 §2.1): one
        // that does not parse as one is ignored as a whole.
        Some(name) if headers.contains_key(name) && is_dictionary(headers, name) => {
            (CacheControl::parse_field(headers, name), true)
        }
        _ => (CacheControl::parse(headers), false),
    }
}

/// Whether every `name` field of `headers`, combined, is a valid RFC 8941
/// dictionary (§3.2): members `key[=item]` with parameters, separated by
/// commas.
fn is_dictionary(headers: &HeaderMap, name: &HeaderName) -> bool {
    let mut combined = Vec::new();
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            combined.push(b',');
        }
        combined.extend_from_slice(value.as_bytes());
    }
    sf::dictionary(&combined)
}

/// A validating reader of RFC 8941 structured fields, as far as a
/// dictionary needs (§4.2).
mod sf {
    struct Input<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Input<'_> {
        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.pos).copied()
        }

        fn eat(&mut self, byte: u8) -> bool {
            let found = self.peek() == Some(byte);
            if found {
                self.pos += 1;
            }
            found
        }

        fn skip(&mut self, ws: impl Fn(u8) -> bool) {
            while self.peek().is_some_and(&ws) {
                self.pos += 1;
            }
        }

        fn while_(&mut self, ok: impl Fn(u8) -> bool) -> usize {
            let start = self.pos;
            self.skip(ok);
            self.pos - start
        }
    }

    fn is_tchar(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
    }

    /// `sf-dictionary`: members separated by commas and optional spaces
    /// or tabs; an empty field is an empty dictionary.
    pub(super) fn dictionary(bytes: &[u8]) -> bool {
        let mut input = Input { bytes, pos: 0 };
        input.skip(|b| b == b' ');
        if input.peek().is_none() {
            return true;
        }
        loop {
            if !key(&mut input) {
                return false;
            }
            if input.eat(b'=') {
                if !item_or_list(&mut input) {
                    return false;
                }
            } else if !parameters(&mut input) {
                return false;
            }
            input.skip(|b| b == b' ' || b == b'\t');
            match input.peek() {
                None => return true,
                Some(b',') => {
                    input.pos += 1;
                    input.skip(|b| b == b' ' || b == b'\t');
                    if input.peek().is_none() {
                        return false; // a trailing comma
                    }
                }
                Some(_) => return false,
            }
        }
    }

    fn key(input: &mut Input<'_>) -> bool {
        match input.peek() {
            Some(b) if b.is_ascii_lowercase() || b == b'*' => {}
            _ => return false,
        }
        input.while_(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
        true
    }

    fn item_or_list(input: &mut Input<'_>) -> bool {
        if input.eat(b'(') {
            loop {
                input.skip(|b| b == b' ');
                if input.eat(b')') {
                    return parameters(input);
                }
                if !bare_item(input) || !parameters(input) {
                    return false;
                }
                match input.peek() {
                    Some(b' ' | b')') => {}
                    _ => return false,
                }
            }
        }
        bare_item(input) && parameters(input)
    }

    fn parameters(input: &mut Input<'_>) -> bool {
        while input.eat(b';') {
            input.skip(|b| b == b' ');
            if !key(input) {
                return false;
            }
            if input.eat(b'=') && !bare_item(input) {
                return false;
            }
        }
        true
    }

    fn bare_item(input: &mut Input<'_>) -> bool {
        match input.peek() {
            Some(b'-' | b'0'..=b'9') => {
                input.eat(b'-');
                let int = input.while_(|b| b.is_ascii_digit());
                if int == 0 || int > 15 {
                    return false;
                }
                if input.eat(b'.') {
                    let frac = input.while_(|b| b.is_ascii_digit());
                    return int <= 12 && (1..=3).contains(&frac);
                }
                true
            }
            Some(b'"') => {
                input.pos += 1;
                loop {
                    match input.peek() {
                        Some(b'\\') => {
                            input.pos += 1;
                            if !matches!(input.peek(), Some(b'"' | b'\\')) {
                                return false;
                            }
                            input.pos += 1;
                        }
                        Some(b'"') => {
                            input.pos += 1;
                            return true;
                        }
                        Some(b) if (0x20..0x7f).contains(&b) => input.pos += 1,
                        _ => return false,
                    }
                }
            }
            Some(b':') => {
                input.pos += 1;
                input.while_(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                input.eat(b':')
            }
            Some(b'?') => {
                input.pos += 1;
                input.eat(b'0') || input.eat(b'1')
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => {
                input.while_(|b| is_tchar(b) || b == b':' || b == b'/');
                true
            }
            _ => false,
        }
    }
}

/// The age the response already has (RFC 9111 §5.1): its `Age` in
/// seconds, the first member of a list (`Age: 7200, 0` is 7200) or of the
/// first field; an invalid value is ignored.
pub(crate) fn age(headers: &HeaderMap) -> u64 {
    headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
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

    #[test]
    fn a_list_valued_age_uses_its_first_member() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AGE, HeaderValue::from_static("7200, 0"));
        assert_eq!(age(&headers), 7200);
        headers.insert(header::AGE, HeaderValue::from_static("x, 5"));
        assert_eq!(age(&headers), 0);
    }

    #[test]
    fn targeted_fields_must_be_structured_dictionaries() {
        for valid in [
            "max-age=10000",
            "max-age=60, stale-while-revalidate=30",
            "no-store",
            "private, max-age=5;a=1",
            "a=?1, b=\"x\", c=:aGk=:, d=(1 2), e=1.5, f=tok/en",
            "",
        ] {
            assert!(sf::dictionary(valid.as_bytes()), "{valid:?}");
        }
        for invalid in [
            "max-age=10000, &&&&&",
            "Max-Age=5",
            "max-age=",
            "max-age=5,",
            "max-age=\"unterminated",
            "a=1.2345",
            "a=(1 2",
        ] {
            assert!(!sf::dictionary(invalid.as_bytes()), "{invalid:?}");
        }
        let name = HeaderName::from_static("cdn-cache-control");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        headers.insert(&name, HeaderValue::from_static("max-age=10000, &&&&&"));
        let (cc, targeted) = governing(&headers, Some(&name));
        assert!(!targeted, "an invalid targeted field is ignored as a whole");
        assert_eq!(cc.max_age, Some(60));
    }

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

//! Conditional and range requests answered from a stored response (RFC
//! 9110 §13 and §14): `If-None-Match`, then `If-Modified-Since`, for a
//! `304`; a single `bytes=` range (under `If-Range`) for a `206`, or a
//! `416` when it cannot be satisfied.

use crate::config::CacheConfig;
use crate::http::encoding::Accepts;
use crate::http::freshness::parse_date;
use crate::http::semantics::if_none_match;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// What a request makes conditional, read once by the hidden extractor:
/// boxed, and absent for the usual request that carries none of it, so
/// that it takes one word of the request's future.
///
/// Also what the request accepts of content codings (`Accept-Encoding`),
/// which chooses the representation of a compressed entry it gets.
#[derive(Debug, Default, Clone)]
pub(crate) struct Conditions {
    fields: Option<Box<Fields>>,
    pub(crate) accepts: Accepts,
}

#[derive(Debug, Default, Clone)]
struct Fields {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
    /// `GET` only: a range on other methods is ignored (§14.2).
    range: Option<HeaderValue>,
    if_range: Option<HeaderValue>,
}

/// The request header fields a cached route reads, found in one pass over
/// the request's fields instead of a hashed lookup for each: the
/// preconditions, `Range`, `Accept-Encoding`, whether the client sent
/// cache directives (`Cache-Control`, `Pragma`) and, when asked, whether
/// it sent credentials. A request carries a few fields (`Host` alone from
/// most tools, a dozen from a browser) and a route looks for seven, most
/// of them absent; each field takes one comparison of its name.
///
/// A field repeated takes its first value, as `HeaderMap::get` would.
pub(crate) struct RequestFields<'a> {
    headers: &'a HeaderMap,
    /// One of the cache's credential headers is present (looked for only
    /// when [`scan`](Self::scan) is given the configuration).
    pub(crate) credential: bool,
    /// `Cache-Control` or `Pragma` is present.
    pub(crate) directives: bool,
    if_none_match: Option<&'a HeaderValue>,
    if_modified_since: Option<&'a HeaderValue>,
    range: Option<&'a HeaderValue>,
    if_range: Option<&'a HeaderValue>,
    accept_encoding: Option<&'a HeaderValue>,
    /// More than one `Accept-Encoding` field (they are parsed together).
    accept_encodings: bool,
}

impl<'a> RequestFields<'a> {
    /// `headers` read in one pass; credentials looked for when `config`
    /// is given.
    pub(crate) fn scan(headers: &'a HeaderMap, config: Option<&CacheConfig>) -> Self {
        let mut fields = Self {
            headers,
            credential: false,
            directives: false,
            if_none_match: None,
            if_modified_since: None,
            range: None,
            if_range: None,
            accept_encoding: None,
            accept_encodings: false,
        };
        for (name, value) in headers {
            let first = |slot: &mut Option<&'a HeaderValue>| {
                slot.get_or_insert(value);
            };
            match *name {
                header::IF_NONE_MATCH => first(&mut fields.if_none_match),
                header::IF_MODIFIED_SINCE => first(&mut fields.if_modified_since),
                header::RANGE => first(&mut fields.range),
                header::IF_RANGE => first(&mut fields.if_range),
                header::ACCEPT_ENCODING => {
                    fields.accept_encodings |= fields.accept_encoding.is_some();
                    first(&mut fields.accept_encoding);
                }
                header::CACHE_CONTROL | header::PRAGMA => fields.directives = true,
                _ => {}
            }
            if let Some(config) = config {
                fields.credential |= config.is_credential(name.as_str());
            }
        }
        fields
    }
}

impl Conditions {
    /// What `fields` make conditional (`Range` only on a `GET`), and the
    /// codings they accept.
    pub(crate) fn from_fields(fields: &RequestFields<'_>, get: bool) -> Self {
        let range = if get { fields.range } else { None };
        // Built only when the request is conditional or ranged at all.
        let any =
            fields.if_none_match.is_some() || fields.if_modified_since.is_some() || range.is_some();
        Self {
            fields: any.then(|| {
                Box::new(Fields {
                    if_none_match: fields.if_none_match.cloned(),
                    if_modified_since: fields.if_modified_since.cloned(),
                    range: range.cloned(),
                    if_range: fields.if_range.cloned(),
                })
            }),
            accepts: match fields.accept_encoding {
                None => Accepts::default(),
                Some(one) if !fields.accept_encodings => Accepts::from_value(one),
                Some(_) => Accepts::from_headers(fields.headers),
            },
        }
    }

    /// Whether a stored response with `headers` (status `status`) is not
    /// modified for this request (RFC 9110 §13.2.2): `If-None-Match` when
    /// present, else `If-Modified-Since` against its `Last-Modified`. Only
    /// a 2xx response has preconditions evaluated (§13.2.1).
    pub(crate) fn not_modified(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        let Some(fields) = &self.fields else {
            return false;
        };
        if !status.is_success() {
            return false;
        }
        if let Some(field) = &fields.if_none_match {
            return headers
                .get(header::ETAG)
                .is_some_and(|etag| if_none_match(field, etag));
        }
        let (Some(since), Some(modified)) = (
            fields.if_modified_since.as_ref().and_then(parse_date),
            headers.get(header::LAST_MODIFIED).and_then(parse_date),
        ) else {
            return false;
        };
        modified <= since
    }

    /// The part of a stored `200` body of `len` bytes this request asks
    /// for (RFC 9110 §14.2): `None` for the whole body (no range, several
    /// ranges, an invalid one, or an `If-Range` that does not match).
    fn range(&self, headers: &HeaderMap, len: u64) -> Option<Part> {
        let fields = self.fields.as_deref()?;
        let range = fields.range.as_ref()?.to_str().ok()?;
        if let Some(if_range) = &fields.if_range {
            if !if_range_matches(if_range, headers) {
                return None;
            }
        }
        parse_range(range, len)
    }

    /// Whether the request has no precondition and no range: a stored
    /// response answers it as it is ([`Self::answer`] returns it).
    pub(crate) fn is_plain(&self) -> bool {
        self.fields.is_none()
    }

    /// `full` (a stored `200` with `headers` and `body`), or the `304`,
    /// `206` or `416` standing for it.
    pub(crate) fn answer(&self, full: Response, body: &Bytes) -> Response {
        if self.fields.is_none() {
            return full;
        }
        let status = full.status();
        if self.not_modified(status, full.headers()) {
            return not_modified(full.headers());
        }
        if status != StatusCode::OK {
            return full;
        }
        let len = body.len() as u64;
        match self.range(full.headers(), len) {
            None => full,
            Some(Part::Bytes(first, last)) => {
                let (mut parts, _) = full.into_parts();
                parts.status = StatusCode::PARTIAL_CONTENT;
                let content_range = format!("bytes {first}-{last}/{len}");
                if let Ok(value) = HeaderValue::from_str(&content_range) {
                    parts.headers.insert(header::CONTENT_RANGE, value);
                }
                let (start, end) = (to_index(first), to_index(last).saturating_add(1));
                let slice = body.slice(start..end.min(body.len()));
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(slice.len()));
                Response::from_parts(parts, Body::from(slice))
            }
            Some(Part::Unsatisfiable) => {
                let (mut parts, _) = full.into_parts();
                parts.status = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    parts.headers.insert(header::CONTENT_RANGE, value);
                }
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                parts.headers.remove(header::CONTENT_TYPE);
                Response::from_parts(parts, Body::empty())
            }
        }
    }
}

fn to_index(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    /// First and last byte, inclusive.
    Bytes(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range over `len` bytes: `first-last`, `first-` or
/// `-suffix`; `None` for several ranges or an invalid one (the whole body
/// is sent, which RFC 9110 §14.2 allows).
fn parse_range(field: &str, len: u64) -> Option<Part> {
    let (unit, spec) = field.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    match (number(first)?, number(last)?) {
        (Some(first), last) => {
            if last.is_some_and(|last| last < first) {
                return None;
            }
            if first >= len {
                return Some(Part::Unsatisfiable);
            }
            let last = last.map_or(len - 1, |last| last.min(len - 1));
            Some(Part::Bytes(first, last))
        }
        (None, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                return Some(Part::Unsatisfiable);
            }
            Some(Part::Bytes(len.saturating_sub(suffix), len - 1))
        }
        (None, None) => None,
    }
}

/// `If-Range` (RFC 9110 §13.1.5): an entity tag must match the stored
/// `ETag` strongly (a weak tag never matches); a date must equal the
/// stored `Last-Modified`.
fn if_range_matches(if_range: &HeaderValue, headers: &HeaderMap) -> bool {
    let Ok(value) = if_range.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        let strong = |tag: &str| tag.starts_with('"') && tag.len() >= 2 && tag.ends_with('"');
        return strong(value)
            && headers
                .get(header::ETAG)
                .and_then(|etag| etag.to_str().ok())
                .is_some_and(|etag| strong(etag) && etag == value);
    }
    match (
        parse_date(if_range),
        headers.get(header::LAST_MODIFIED).and_then(parse_date),
    ) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// A `304 Not Modified` carrying the fields RFC 9110 §15.4.5 asks for from
/// the `200` it stands for, and the cache's own.
pub(super) fn not_modified(full: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    for name in [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::DATE,
        header::ETAG,
        header::EXPIRES,
        header::VARY,
        header::AGE,
        crate::http::headers::X_CACHE,
        crate::http::headers::CACHE_STATUS,
    ] {
        for value in full.get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::encoding::Encoding;

    #[test]
    fn one_pass_finds_the_fields_lookups_would() {
        let config = CacheConfig::default();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        let fields = RequestFields::scan(&headers, Some(&config));
        assert!(!fields.credential && !fields.directives);
        let plain = Conditions::from_fields(&fields, true);
        assert!(plain.fields.is_none(), "no precondition, no range");
        assert_eq!(plain.accepts, Accepts::default());

        for (name, value) in [
            (header::IF_NONE_MATCH, "\"a\""),
            (header::IF_NONE_MATCH, "\"b\""),
            (header::IF_MODIFIED_SINCE, "Sun, 06 Dec 2026 10:00:00 GMT"),
            (header::RANGE, "bytes=0-1"),
            (header::IF_RANGE, "\"a\""),
            (header::PRAGMA, "no-cache"),
            (header::AUTHORIZATION, "Bearer token"),
            (header::ACCEPT_ENCODING, "br;q=0"),
            (header::ACCEPT_ENCODING, "gzip"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        let fields = RequestFields::scan(&headers, Some(&config));
        assert!(fields.credential && fields.directives);
        assert!(
            !RequestFields::scan(&headers, None).credential,
            "credentials are looked for only when asked"
        );
        let get = Conditions::from_fields(&fields, true);
        let found = get
            .fields
            .as_deref()
            .expect("a conditional, ranged request");
        // A repeated field's first value, as `HeaderMap::get` finds it.
        assert_eq!(
            found.if_none_match,
            headers.get(header::IF_NONE_MATCH).cloned()
        );
        assert_eq!(
            found.if_modified_since,
            headers.get(header::IF_MODIFIED_SINCE).cloned()
        );
        assert_eq!(found.range, headers.get(header::RANGE).cloned());
        assert_eq!(found.if_range, headers.get(header::IF_RANGE).cloned());
        // Two `Accept-Encoding` fields are parsed together.
        assert_eq!(get.accepts, Accepts::from_headers(&headers));
        assert!(get.accepts.takes(Encoding::Gzip));
        // A range is read on a `GET` only.
        let head = Conditions::from_fields(&fields, false);
        assert!(head.fields.as_deref().is_some_and(|f| f.range.is_none()));
    }

    #[test]
    fn single_byte_ranges_follow_rfc_9110_section_14() {
        assert_eq!(parse_range("bytes=0-4", 10), Some(Part::Bytes(0, 4)));
        assert_eq!(parse_range("bytes=5-", 10), Some(Part::Bytes(5, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some(Part::Bytes(7, 9)));
        assert_eq!(parse_range("bytes=-30", 10), Some(Part::Bytes(0, 9)));
        assert_eq!(parse_range("bytes=8-100", 10), Some(Part::Bytes(8, 9)));
        assert_eq!(parse_range("bytes=10-", 10), Some(Part::Unsatisfiable));
        assert_eq!(parse_range("bytes=-0", 10), Some(Part::Unsatisfiable));
        assert_eq!(
            parse_range("bytes=0-1,4-5", 10),
            None,
            "several: whole body"
        );
        assert_eq!(parse_range("bytes=5-2", 10), None, "invalid: ignored");
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=a-b", 10), None);
    }
}

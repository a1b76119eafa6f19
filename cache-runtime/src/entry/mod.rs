//! The stored value: a small versioned binary header followed by the body.
//!
//! A hit is served from one value fetched in one round trip; decoding reads a
//! few fixed-size fields and slices the body out of the fetched buffer without
//! copying it. No JSON is parsed on a hit.
//!
//! Layout of format version 2 (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 2 | magic `RC` |
//! | 1 | format version (`2`) |
//! | 1 | flags: bit 0 serve stale only on error; bits 1–2 the body's content coding (0 none, 1 `gzip`, 2 `br`, 3 `zstd`); bit 3 coded by the handler, not the cache; other bits `0` |
//! | 2 | HTTP status |
//! | 8 | stored-at, milliseconds since the Unix epoch |
//! | 4 | TTL in seconds |
//! | 4 | stale window in seconds |
//! | 1 + n | ETag length and bytes (length 0: none) |
//! | 2 + n | `Content-Type` length and bytes (length 0: none) |
//! | 2 | number of other stored headers, then for each: 1 + n name, 2 + n value |
//! | rest | the body, byte for byte as the handler produced it, or as the cache compressed it |
//!
//! Anything that does not match this layout exactly (wrong magic, unknown
//! version, a length past the end, an invalid header) decodes to an error and
//! is treated as a miss.
//!
//! The version changes with every change to what a decoder must know, so
//! that instances of two releases sharing a Redis during a rolling upgrade
//! treat each other's entries as misses, never as wrong hits. Version 1
//! (0.1.0) had no content-coding bits: a version-1 decoder reading a
//! compressed entry would serve its gzip bytes as the plain body. Version 2
//! adds them (bits 1–3 of the flags); it decodes no version-1 entry, and a
//! version-1 decoder decodes no version-2 entry.

use crate::http::encoding::Encoding;
use bytes::{BufMut, Bytes};
use http::{HeaderName, HeaderValue, StatusCode};
use std::fmt;

pub(crate) mod decoded;
pub(crate) mod prepared;

const MAGIC: &[u8; 2] = b"RC";
/// The format version written by this crate (see the [module docs](self)
/// on rolling upgrades).
pub const FORMAT_VERSION: u8 = 2;
const FIXED_LEN: usize = 2 + 1 + 1 + 2 + 8 + 4 + 4;
/// Flag bit: serve stale only on error.
const FLAG_STALE_ON_ERROR_ONLY: u8 = 1;
/// Flag bits 1–2: the body's content coding.
const CODING_SHIFT: u8 = 1;
const CODING_MASK: u8 = 0b110;
/// Flag bit: the handler coded the body (its `ETag` is the coded one's).
const FLAG_HANDLER_CODED: u8 = 0b1000;
const KNOWN_FLAGS: u8 = FLAG_STALE_ON_ERROR_ONLY | CODING_MASK | FLAG_HANDLER_CODED;
/// Most headers an entry may carry besides `Content-Type` and `ETag`.
pub const MAX_HEADERS: usize = 64;

/// Whether a response header is kept with an entry. Headers that describe
/// the connection or this particular answer rather than the resource are
/// not, nor the three the entry holds in fields of their own
/// (`Content-Encoding` is [`Entry::encoding`]).
pub fn is_storable_header(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "content-type"
            | "content-encoding"
            | "etag"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "upgrade"
            | "te"
            | "trailer"
            | "date"
            | "age"
            | "set-cookie"
            | "x-cache"
            | "cache-status"
    )
}

/// A decoded cache entry. The body and header values share the fetched buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Response status (always 2xx for entries this crate writes).
    pub status: StatusCode,
    /// When the entry was stored, in milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    /// Time to live in seconds, as configured on the route when stored.
    pub ttl_secs: u32,
    /// Window after the TTL during which the entry may be served stale.
    pub stale_secs: u32,
    /// Within that window, serve it only when a fresh answer fails (the
    /// handler's `stale-if-error`, RFC 5861 §4), not while refreshing.
    /// Flag bit 0 of the stored value.
    pub stale_on_error_only: bool,
    /// Entity tag of the body, if one was computed.
    pub etag: Option<HeaderValue>,
    /// The response's `Content-Type`.
    pub content_type: Option<HeaderValue>,
    /// Other response headers kept with the entry.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The response body, in [`Entry::encoding`].
    pub body: Bytes,
    /// The body's content coding, if it is compressed. Served as it is to
    /// clients that accept it, decompressed for the others.
    pub encoding: Option<Encoding>,
    /// Whether the handler compressed the body (its `ETag`, if any, is
    /// then the compressed representation's), not the cache.
    pub encoded_by_handler: bool,
}

/// Why a stored value could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The value does not start with the entry magic.
    BadMagic,
    /// The value was written by an unknown format version.
    UnknownVersion(u8),
    /// A length field points past the end of the value.
    Truncated,
    /// A stored status, header name or header value is invalid.
    Invalid,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => f.write_str("not a cache entry (bad magic)"),
            Self::UnknownVersion(v) => write!(f, "unknown cache entry format version {v}"),
            Self::Truncated => f.write_str("truncated cache entry"),
            Self::Invalid => f.write_str("invalid status or header in cache entry"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why an entry could not be encoded: it breaks a rule that
/// [`Entry::decode`] would enforce on the stored value (one rule,
/// [`Entry::check`], serves both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The status is not one an entry may hold ([`is_storable_status`]).
    Status,
    /// A header is one an entry does not keep ([`is_storable_header`]).
    Header,
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// A field is too long for its length prefix (ETag 255 bytes, other
    /// values 65 535), or an ETag or content type is present but empty
    /// (stored as absent).
    Length,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Status => "the status may not be stored",
            Self::Header => "a header may not be stored",
            Self::TooManyHeaders => "the response has too many headers to store",
            Self::Length => "a header of the response is too large (or empty) to store",
        })
    }
}

/// Whether an entry may hold a response of `status`: encoding refuses and
/// decoding rejects any other. 200, 203 and 204 are stored by default;
/// 3xx and 4xx (but `304`) only by a route's negative caching. Never 5xx,
/// 1xx, `304`, or the other 2xx (`201`, `202`, `205`, `206`, …).
pub fn is_storable_status(status: StatusCode) -> bool {
    is_default_storable_status(status)
        || ((300..500).contains(&status.as_u16()) && status != StatusCode::NOT_MODIFIED)
}

/// The statuses stored without negative caching: 200, 203 and 204 (RFC
/// 9110 §15.1 lists them as heuristically cacheable; `201`, `202`, `205`
/// and `206` are answers to one request, not a representation to reuse).
pub fn is_default_storable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 203 | 204)
}

impl std::error::Error for EncodeError {}

/// Where an entry stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Freshness {
    /// Within its TTL.
    Fresh,
    /// Past its TTL, inside its stale window.
    Stale,
    /// Past both (possible when clocks differ between instances).
    Expired,
}

impl Entry {
    /// How long the backend keeps the entry: its TTL and stale window from
    /// when it was stored.
    pub(crate) fn remaining_life(&self) -> std::time::Duration {
        let secs = u64::from(self.ttl_secs) + u64::from(self.stale_secs);
        let end = self.stored_at_ms.saturating_add(secs.saturating_mul(1000));
        std::time::Duration::from_millis(end.saturating_sub(crate::clock::now_ms()))
    }

    /// Where the entry stands at `now_ms` (milliseconds since the Unix
    /// epoch), judged from its stored-at time, TTL and stale window.
    pub fn freshness(&self, now_ms: u64) -> Freshness {
        let age_ms = now_ms.saturating_sub(self.stored_at_ms);
        let fresh_ms = u64::from(self.ttl_secs) * 1000;
        if age_ms < fresh_ms {
            Freshness::Fresh
        } else if age_ms < fresh_ms + u64::from(self.stale_secs) * 1000 {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }

    /// Creates an entry with no ETag, no content type and no extra headers.
    pub fn new(status: StatusCode, stored_at_ms: u64, ttl_secs: u32, body: Bytes) -> Self {
        Self {
            status,
            stored_at_ms,
            ttl_secs,
            stale_secs: 0,
            stale_on_error_only: false,
            etag: None,
            content_type: None,
            headers: Vec::new(),
            body,
            encoding: None,
            encoded_by_handler: false,
        }
    }

    /// Whether the entry can be stored as it is: what [`Entry::decode`]
    /// accepts, so that whatever encodes decodes to an equal entry.
    ///
    /// # Errors
    /// The first rule the entry breaks.
    pub fn check(&self) -> Result<(), EncodeError> {
        if !is_storable_status(self.status) {
            return Err(EncodeError::Status);
        }
        let fits = |value: &Option<HeaderValue>, max: usize| {
            value
                .as_ref()
                .is_none_or(|v| !v.is_empty() && v.len() <= max)
        };
        if !fits(&self.etag, usize::from(u8::MAX))
            || !fits(&self.content_type, usize::from(u16::MAX))
        {
            return Err(EncodeError::Length);
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(EncodeError::TooManyHeaders);
        }
        for (name, value) in &self.headers {
            if !is_storable_header(name) {
                return Err(EncodeError::Header);
            }
            if name.as_str().len() > usize::from(u8::MAX) || value.len() > usize::from(u16::MAX) {
                return Err(EncodeError::Length);
            }
        }
        Ok(())
    }

    /// Serializes the entry into one contiguous value.
    ///
    /// # Errors
    /// When the entry breaks a rule of [`Entry::check`].
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.check()?;
        let etag = self.etag.as_ref().map_or(&[][..], HeaderValue::as_bytes);
        let content_type = self
            .content_type
            .as_ref()
            .map_or(&[][..], HeaderValue::as_bytes);
        let headers_len: usize = self
            .headers
            .iter()
            .map(|(n, v)| 3 + n.as_str().len() + v.len())
            .sum();
        let mut out = Vec::with_capacity(
            FIXED_LEN + 1 + etag.len() + 2 + content_type.len() + 2 + headers_len + self.body.len(),
        );
        // Lengths fit their prefixes: `check` said so.
        let narrow = |len: usize| u16::try_from(len).unwrap_or(u16::MAX);
        out.put_slice(MAGIC);
        out.put_u8(FORMAT_VERSION);
        let coding = self.encoding.map_or(0, Encoding::bits) << CODING_SHIFT;
        let by_handler = if self.encoded_by_handler && self.encoding.is_some() {
            FLAG_HANDLER_CODED
        } else {
            0
        };
        out.put_u8(u8::from(self.stale_on_error_only) | coding | by_handler);
        out.put_u16(self.status.as_u16());
        out.put_u64(self.stored_at_ms);
        out.put_u32(self.ttl_secs);
        out.put_u32(self.stale_secs);
        out.put_u8(u8::try_from(etag.len()).unwrap_or(u8::MAX));
        out.put_slice(etag);
        out.put_u16(narrow(content_type.len()));
        out.put_slice(content_type);
        out.put_u16(narrow(self.headers.len()));
        for (name, value) in &self.headers {
            out.put_u8(u8::try_from(name.as_str().len()).unwrap_or(u8::MAX));
            out.put_slice(name.as_str().as_bytes());
            out.put_u16(narrow(value.len()));
            out.put_slice(value.as_bytes());
        }
        out.put_slice(&self.body);
        Ok(out)
    }

    /// Decodes a stored value. The body and header values borrow `value`'s
    /// buffer (no copy).
    pub fn decode(value: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader {
            buf: &value,
            pos: 0,
        };
        if r.take(2)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let flags = r.u8()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::Invalid);
        }
        let encoding = Encoding::from_bits((flags & CODING_MASK) >> CODING_SHIFT);
        let status = StatusCode::from_u16(r.u16()?)
            .ok()
            .filter(|status| is_storable_status(*status))
            .ok_or(DecodeError::Invalid)?;
        let stored_at_ms = r.u64()?;
        let ttl_secs = r.u32()?;
        let stale_secs = r.u32()?;
        let etag_len = usize::from(r.u8()?);
        let etag = r.header_value(&value, etag_len)?;
        let ct_len = usize::from(r.u16()?);
        let content_type = r.header_value(&value, ct_len)?;
        let count = usize::from(r.u16()?);
        if count > MAX_HEADERS {
            return Err(DecodeError::Invalid);
        }
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            let name_len = usize::from(r.u8()?);
            let name =
                HeaderName::from_bytes(r.take(name_len)?).map_err(|_| DecodeError::Invalid)?;
            if !is_storable_header(&name) {
                return Err(DecodeError::Invalid);
            }
            let value_len = usize::from(r.u16()?);
            let start = r.pos;
            r.take(value_len)?;
            let header_value = HeaderValue::from_maybe_shared(value.slice(start..r.pos))
                .map_err(|_| DecodeError::Invalid)?;
            headers.push((name, header_value));
        }
        let body = value.slice(r.pos..);
        Ok(Self {
            status,
            stored_at_ms,
            ttl_secs,
            stale_secs,
            stale_on_error_only: flags & FLAG_STALE_ON_ERROR_ONLY != 0,
            etag,
            content_type,
            headers,
            body,
            encoding,
            encoded_by_handler: encoding.is_some() && flags & FLAG_HANDLER_CODED != 0,
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// An optional header value of `len` bytes, sliced from `whole`.
    fn header_value(
        &mut self,
        whole: &Bytes,
        len: usize,
    ) -> Result<Option<HeaderValue>, DecodeError> {
        let start = self.pos;
        self.take(len)?;
        if len == 0 {
            return Ok(None);
        }
        HeaderValue::from_maybe_shared(whole.slice(start..self.pos))
            .map(Some)
            .map_err(|_| DecodeError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        let mut e = Entry::new(
            StatusCode::OK,
            1_700_000_000_123,
            3600,
            Bytes::from_static(br#"{"id":1}"#),
        );
        e.stale_secs = 30;
        e.etag = Some(HeaderValue::from_static("\"abc\""));
        e.content_type = Some(HeaderValue::from_static("application/json"));
        e.headers = vec![(
            HeaderName::from_static("x-item"),
            HeaderValue::from_static("1"),
        )];
        e
    }

    #[test]
    fn round_trip_keeps_every_field_and_body_bytes() {
        let e = sample();
        let encoded = e.encode().unwrap();
        assert!(encoded.ends_with(br#"{"id":1}"#));
        assert_eq!(Entry::decode(Bytes::from(encoded)).unwrap(), e);
    }

    #[test]
    fn freshness_follows_ttl_then_stale_window() {
        let e = sample(); // stored at 1_700_000_000_123, ttl 3600 s, stale 30 s
        let at = |secs: u64| e.freshness(e.stored_at_ms + secs * 1000);
        assert_eq!(at(0), Freshness::Fresh);
        assert_eq!(at(3599), Freshness::Fresh);
        assert_eq!(at(3600), Freshness::Stale);
        assert_eq!(at(3629), Freshness::Stale);
        assert_eq!(at(3630), Freshness::Expired);
        assert_eq!(e.freshness(0), Freshness::Fresh, "a clock behind stored-at");
    }

    #[test]
    fn empty_optional_fields_round_trip() {
        let e = Entry::new(StatusCode::NO_CONTENT, 0, 1, Bytes::new());
        assert_eq!(Entry::decode(Bytes::from(e.encode().unwrap())).unwrap(), e);
    }

    #[test]
    fn body_is_not_copied_on_decode() {
        let encoded = Bytes::from(sample().encode().unwrap());
        let decoded = Entry::decode(encoded.clone()).unwrap();
        let offset = decoded.body.as_ptr() as usize - encoded.as_ptr() as usize;
        assert_eq!(offset, encoded.len() - decoded.body.len());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(
            Entry::decode(Bytes::from_static(b"")),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Entry::decode(Bytes::from_static(b"{\"json\":1}")),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(
            Entry::decode(Bytes::from_static(b"RC\x09\x00")),
            Err(DecodeError::UnknownVersion(9))
        );
        let good = sample().encode().unwrap();
        // Every truncation inside the header is detected.
        let header_len = good.len() - 8;
        for cut in 0..header_len {
            assert!(
                Entry::decode(Bytes::copy_from_slice(&good[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        // A bad status and a header value with a newline are rejected.
        let mut bad = good.clone();
        bad[4..6].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(Entry::decode(Bytes::from(bad)), Err(DecodeError::Invalid));
        let mut bad = sample();
        bad.headers.clear();
        let mut bytes = bad.encode().unwrap();
        let pos = bytes
            .windows(16)
            .position(|w| w == b"application/json")
            .unwrap();
        bytes[pos] = b'\n';
        assert_eq!(Entry::decode(Bytes::from(bytes)), Err(DecodeError::Invalid));
    }

    /// One rule for both directions: whatever `encode` accepts decodes to
    /// an equal entry, and what it refuses is what `decode` would reject.
    #[test]
    fn encode_accepts_exactly_what_decode_returns() {
        let mut cases = Vec::new();
        for status in [200, 201, 203, 204, 206, 301, 404, 500] {
            let mut e = sample();
            e.status = StatusCode::from_u16(status).unwrap();
            cases.push(e);
        }
        for name in [
            "set-cookie",
            "date",
            "age",
            "x-cache",
            "content-length",
            "x-ok",
        ] {
            let mut e = sample();
            e.headers
                .push((HeaderName::from_static(name), HeaderValue::from_static("v")));
            cases.push(e);
        }
        let mut empty_etag = sample();
        empty_etag.etag = Some(HeaderValue::from_static(""));
        cases.push(empty_etag);
        let mut empty_type = sample();
        empty_type.content_type = Some(HeaderValue::from_static(""));
        cases.push(empty_type);
        let mut many = sample();
        many.headers = (0..=MAX_HEADERS)
            .map(|i| {
                let name = HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap();
                (name, HeaderValue::from_static("v"))
            })
            .collect();
        cases.push(many);
        let mut long_etag = sample();
        long_etag.etag = Some(HeaderValue::from_str(&"e".repeat(256)).unwrap());
        cases.push(long_etag);
        let mut refused = 0;
        for entry in cases {
            match entry.encode() {
                Ok(bytes) => assert_eq!(
                    Entry::decode(Bytes::from(bytes)).as_ref(),
                    Ok(&entry),
                    "encoded, so it must decode to the same entry"
                ),
                Err(_) => refused += 1,
            }
        }
        assert_eq!(
            refused, 12,
            "non-2xx statuses, unstorable headers, empty and oversized fields"
        );
    }

    #[test]
    fn every_byte_flip_decodes_or_errors_without_panic() {
        let good = sample().encode().unwrap();
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut v = good.clone();
                v[i] ^= flip;
                let _ = Entry::decode(Bytes::from(v));
            }
        }
    }
}

//! Content codings: entries are compressed once, when they are stored, and
//! served as stored to every client whose `Accept-Encoding` takes that
//! coding (RFC 9110 §12.5.3, q-values honoured); a client that takes none
//! gets the body decompressed. One entry serves every client, so the key
//! never splits by `Accept-Encoding`, and responses say
//! `Vary: Accept-Encoding`.
//!
//! Codings: `gzip` (cargo feature `gzip`, on by default, pure Rust through
//! `flate2`/`miniz_oxide`), `br` (feature `brotli`, pure Rust) and `zstd`
//! (feature `zstd`, which builds the C library).

use super::offload::off_worker;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

/// Bodies this large or larger are compressed on a codec thread
/// ([`off_worker`]), not on the async worker that answers the request.
/// Measured with the `codings` group of `bench/benches/micro.rs` (gzip
/// level 6 on catalogue JSON, this machine): 1 KiB takes about 39 µs,
/// 4 KiB 88 µs, 16 KiB 0.77 ms and 1 MiB 126 ms, while a round trip
/// through a pool of threads costs about 19 µs. From 4 KiB on,
/// compressing inline costs several times the hand-off and runs past the
/// ~100 µs tokio suggests between two awaits.
pub(crate) const OFFLOAD_COMPRESS_BYTES: usize = 4 << 10;

/// Stored bodies this large or larger are decompressed on a codec thread.
/// Measured as above: gunzip of 16 KiB of gzip (about 55 KiB of JSON)
/// takes about 0.2 ms, ten times the hand-off; of a 1 MiB body, 4.6 ms.
pub(crate) const OFFLOAD_DECOMPRESS_BYTES: usize = 16 << 10;

/// A content coding an entry can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `gzip` (RFC 1952), feature `gzip`.
    Gzip,
    /// `br` (RFC 7932), feature `brotli`.
    Brotli,
    /// `zstd` (RFC 8878), feature `zstd`.
    Zstd,
}

/// Every coding, in the order of the stored value's flag bits.
const ALL: [Encoding; 3] = [Encoding::Gzip, Encoding::Brotli, Encoding::Zstd];

/// The coding's token in `Content-Encoding` and `Accept-Encoding`.
impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encoding {
    /// The coding's token in `Content-Encoding` and `Accept-Encoding`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress it (its cargo
    /// feature is on).
    pub(crate) const fn is_available(self) -> bool {
        match self {
            Self::Gzip => cfg!(feature = "gzip"),
            Self::Brotli => cfg!(feature = "brotli"),
            Self::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// `self`, when its cargo feature is on; a panic otherwise, which in a
    /// constant (the policy `#[cached_route(compress = "br")]` generates)
    /// is a compile error.
    #[doc(hidden)]
    pub const fn required(self) -> Self {
        if !self.is_available() {
            match self {
                Self::Gzip => {
                    panic!("`compress = \"gzip\"` needs the `gzip` feature of cache-runtime")
                }
                Self::Brotli => {
                    panic!("`compress = \"br\"` needs the `brotli` feature of cache-runtime")
                }
                Self::Zstd => {
                    panic!("`compress = \"zstd\"` needs the `zstd` feature of cache-runtime")
                }
            }
        }
        self
    }

    /// The coding a `Content-Encoding` token names (`x-gzip` is `gzip`,
    /// RFC 9110 §8.4.1.3).
    pub(crate) fn from_token(token: &str) -> Option<Self> {
        let token = token.trim();
        if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Some(Self::Gzip)
        } else if token.eq_ignore_ascii_case("br") {
            Some(Self::Brotli)
        } else if token.eq_ignore_ascii_case("zstd") {
            Some(Self::Zstd)
        } else {
            None
        }
    }

    pub(crate) fn bits(self) -> u8 {
        match self {
            Self::Gzip => 1,
            Self::Brotli => 2,
            Self::Zstd => 3,
        }
    }

    pub(crate) fn from_bits(bits: u8) -> Option<Self> {
        ALL.into_iter().find(|e| e.bits() == bits)
    }

    /// What the entity tag of this coding's representation adds to the
    /// identity's (see [`derived_tag`]).
    pub(crate) fn tag_suffix(self) -> &'static str {
        match self {
            Self::Gzip => "-gzip",
            Self::Brotli => "-br",
            Self::Zstd => "-zstd",
        }
    }

    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }

    /// `data` compressed, or `None` when this build lacks the coding or
    /// the compressor failed.
    pub(crate) fn compress(self, data: &[u8]) -> Option<Vec<u8>> {
        #[allow(unused_imports)]
        use std::io::Write as _;
        match self {
            #[cfg(feature = "gzip")]
            Self::Gzip => {
                let out = Vec::with_capacity(data.len() / 4);
                let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
                encoder.write_all(data).ok()?;
                encoder.finish().ok()
            }
            #[cfg(feature = "brotli")]
            Self::Brotli => {
                let mut out = Vec::with_capacity(data.len() / 4);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 5,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
                Some(out)
            }
            #[cfg(feature = "zstd")]
            Self::Zstd => zstd::bulk::compress(data, 3).ok(),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = data;
                None
            }
        }
    }

    /// [`Self::compress`], on a codec thread when `data` is at
    /// least [`OFFLOAD_COMPRESS_BYTES`] (inline below, or outside a
    /// runtime): compressing a large body on an async worker would stall
    /// every request scheduled on it.
    pub(crate) async fn compress_off_worker(self, data: Bytes) -> Option<Vec<u8>> {
        let large = data.len() >= OFFLOAD_COMPRESS_BYTES;
        off_worker(large, move || self.compress(&data))
            .await
            .flatten()
    }

    /// [`Self::decompress`], on a codec thread when `data` is at least
    /// [`OFFLOAD_DECOMPRESS_BYTES`] (inline below, or outside a runtime).
    pub(crate) async fn decompress_off_worker(self, data: Bytes, limit: usize) -> Option<Vec<u8>> {
        let large = data.len() >= OFFLOAD_DECOMPRESS_BYTES;
        off_worker(large, move || self.decompress(&data, limit))
            .await
            .flatten()
    }

    /// `data` decompressed, or `None` when it is not valid in this coding,
    /// decompresses to more than `limit` bytes, or this build lacks the
    /// coding.
    pub(crate) fn decompress(self, data: &[u8], limit: usize) -> Option<Vec<u8>> {
        #[allow(unused_imports)]
        use std::io::Read as _;
        // One byte past the limit tells "too large" from "exactly full".
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
        let read: std::io::Result<usize> = match self {
            #[cfg(feature = "gzip")]
            Self::Gzip => flate2::read::GzDecoder::new(data)
                .take(cap)
                .read_to_end(&mut out),
            #[cfg(feature = "brotli")]
            Self::Brotli => brotli::Decompressor::new(data, 4096)
                .take(cap)
                .read_to_end(&mut out),
            #[cfg(feature = "zstd")]
            Self::Zstd => zstd::stream::read::Decoder::with_buffer(data)
                .map(|d| d.take(cap))
                .and_then(|mut d| d.read_to_end(&mut out)),
            // A coding this build lacks (its feature is off).
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (&mut out, cap);
                Err(std::io::ErrorKind::Unsupported.into())
            }
        };
        (read.is_ok() && out.len() <= limit).then_some(out)
    }
}

/// The codings a request's `Accept-Encoding` takes in preference to, or
/// as much as, the identity (q-values honoured: `q=0` refuses a coding;
/// `*` stands for codings not listed). No `Accept-Encoding` takes none:
/// RFC 9110 would allow any, but clients that send none (curl, many
/// libraries) expect the identity, and every server and proxy serves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Accepts(u8);

impl Accepts {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let all = headers.get_all(header::ACCEPT_ENCODING);
        let mut values = all.iter();
        let Some(first) = values.next() else {
            return Self(0);
        };
        if values.next().is_none() {
            return Self::from_value(first);
        }
        Self::parse(all.iter())
    }

    /// What a request's one `Accept-Encoding` field takes.
    pub(crate) fn from_value(value: &HeaderValue) -> Self {
        Self::common(value.as_bytes()).unwrap_or_else(|| Self::parse(std::iter::once(value)))
    }

    /// The values clients send most (browsers, curl, Python, Go, proxies),
    /// recognised whole: each lists codings at `q=1` only, so the client
    /// takes every listed coding the parser knows, as [`Accepts::parse`]
    /// finds (a unit test checks each against it). Parsing a browser's
    /// `gzip, deflate, br, zstd` cost about 1.8 k instructions per request
    /// under callgrind, more than a third of an embedded hit's own cost.
    fn common(value: &[u8]) -> Option<Self> {
        const GZIP: u8 = 1 << 1;
        const BR: u8 = 1 << 2;
        const ZSTD: u8 = 1 << 3;
        Some(Self(match value {
            b"gzip, deflate, br, zstd" | b"deflate, gzip, br, zstd" => GZIP | BR | ZSTD,
            b"gzip, deflate, br" | b"br, gzip, deflate" | b"deflate, gzip, br" => GZIP | BR,
            b"gzip, deflate" | b"deflate, gzip" | b"gzip" | b"x-gzip, gzip, deflate" => GZIP,
            b"br" => BR,
            b"zstd" => ZSTD,
            b"identity" => 0,
            _ => return None,
        }))
    }

    fn parse<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Self {
        // Weights in thousandths; `None` when not listed.
        let mut weights: [Option<u16>; 3] = [None; 3];
        let (mut identity, mut star) = (None, None);
        for value in values {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let token = parts.next().unwrap_or("").trim();
                if token.is_empty() {
                    continue;
                }
                let weight = parts
                    .find_map(|p| {
                        let (name, value) = p.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("q")
                            .then(|| qvalue(value.trim()))
                    })
                    .unwrap_or(1000);
                if token == "*" {
                    star = Some(weight);
                } else if token.eq_ignore_ascii_case("identity") {
                    identity = Some(weight);
                } else if let Some(coding) = Encoding::from_token(token) {
                    let slot = &mut weights[usize::from(coding.bits() - 1)];
                    *slot = Some(slot.map_or(weight, |w| w.max(weight)));
                }
            }
        }
        // The identity, unless named, is acceptable at the weight of `*`,
        // else at the lowest weight of all.
        let identity = identity.or(star).unwrap_or(0);
        let mut bits = 0;
        for coding in ALL {
            let weight = weights[usize::from(coding.bits() - 1)]
                .or(star)
                .unwrap_or(0);
            if weight > 0 && weight >= identity {
                bits |= 1 << coding.bits();
            }
        }
        Self(bits)
    }

    /// Whether the client takes `coding` (in preference to the identity).
    pub(crate) fn takes(self, coding: Encoding) -> bool {
        self.0 & (1 << coding.bits()) != 0
    }
}

/// A qvalue (RFC 9110 §12.4.2) in thousandths; an invalid one is 0.
fn qvalue(text: &str) -> u16 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    match whole {
        "1" => 1000,
        "0" => {
            // The first three places (no allocation: this runs per request
            // that sends a q-value).
            let digits = &fraction.as_bytes()[..fraction.len().min(3)];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return 0;
            }
            let scale = [100, 10, 1];
            digits
                .iter()
                .zip(scale)
                .map(|(d, s)| u16::from(d - b'0') * s)
                .sum()
        }
        _ => 0,
    }
}

/// Whether a `Content-Type` is one that compresses: text, JSON, XML,
/// JavaScript, SVG, and the `+json`/`+xml` structured syntaxes.
pub(crate) fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    (kind == "text" && subtype != "event-stream")
        || matches!(
            subtype,
            "json" | "xml" | "javascript" | "ecmascript" | "x-javascript" | "svg+xml" | "x-ndjson"
        )
        || subtype.ends_with("+json")
        || subtype.ends_with("+xml")
        || (kind == "application" && subtype == "wasm")
}

/// The entity tag of another representation of the resource tagged `tag`:
/// `suffix` (`-gzip`, `-identity`, …) inside the quotes, so that strong
/// comparison tells the representations apart (RFC 9110 §8.8.3); weak
/// tags keep their `W/`.
pub(crate) fn derived_tag(tag: &HeaderValue, suffix: &str) -> HeaderValue {
    let bytes = tag.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + suffix.len());
    match bytes.split_last() {
        Some((b'"', head)) if bytes.len() >= 2 => {
            out.extend_from_slice(head);
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'"');
        }
        _ => {
            out.extend_from_slice(bytes);
            out.extend_from_slice(suffix.as_bytes());
        }
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| tag.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> Accepts {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        Accepts::from_headers(&headers)
    }

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        assert!(!Accepts::from_headers(&HeaderMap::new()).takes(Encoding::Gzip));
        let browser = accepts("gzip, deflate, br, zstd");
        assert!(browser.takes(Encoding::Gzip) && browser.takes(Encoding::Brotli));
        assert!(browser.takes(Encoding::Zstd));
        assert!(accepts("x-gzip").takes(Encoding::Gzip));
        assert!(accepts("GZIP;Q=0.5").takes(Encoding::Gzip));
        assert!(!accepts("gzip;q=0").takes(Encoding::Gzip));
        assert!(!accepts("gzip;q=0.000").takes(Encoding::Gzip));
        assert!(!accepts("br").takes(Encoding::Gzip));
        assert!(!accepts("identity").takes(Encoding::Gzip));
        assert!(accepts("*").takes(Encoding::Gzip));
        assert!(!accepts("*;q=0").takes(Encoding::Gzip));
        assert!(!accepts("*, gzip;q=0").takes(Encoding::Gzip));
        // The client prefers the identity: it gets it.
        assert!(!accepts("gzip;q=0.5, identity").takes(Encoding::Gzip));
        assert!(accepts("gzip;q=0.5, identity;q=0.5").takes(Encoding::Gzip));
        assert!(accepts("gzip;q=0.5, identity;q=0").takes(Encoding::Gzip));
        assert!(!accepts("gzip;q=2").takes(Encoding::Gzip), "invalid q");
        assert!(!accepts("gzip;q=0.5x").takes(Encoding::Gzip), "invalid q");
    }

    #[test]
    fn common_values_read_whole_agree_with_the_parser() {
        for value in [
            "gzip, deflate, br, zstd",
            "deflate, gzip, br, zstd",
            "gzip, deflate, br",
            "br, gzip, deflate",
            "deflate, gzip, br",
            "gzip, deflate",
            "deflate, gzip",
            "gzip",
            "x-gzip, gzip, deflate",
            "br",
            "zstd",
            "identity",
        ] {
            let header = HeaderValue::from_static(value);
            let common = Accepts::common(value.as_bytes());
            assert_eq!(
                common.map(|a| a.0),
                Some(Accepts::parse(std::iter::once(&header)).0),
                "{value}"
            );
        }
        assert!(Accepts::common(b"gzip;q=0").is_none());
        assert!(Accepts::common(b"GZIP").is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn large_bodies_compress_off_the_worker_and_back() {
        #[cfg(feature = "gzip")]
        {
            let data = Bytes::from(b"abc ".repeat(OFFLOAD_COMPRESS_BYTES));
            let packed = Encoding::Gzip
                .compress_off_worker(data.clone())
                .await
                .unwrap();
            assert_eq!(
                Encoding::Gzip.decompress(&packed, data.len()).unwrap(),
                data
            );
        }
    }

    #[test]
    fn text_json_xml_and_scripts_compress() {
        let ct = |v: &'static str| compressible(Some(&HeaderValue::from_static(v)));
        assert!(ct("application/json"));
        assert!(ct("application/json; charset=utf-8"));
        assert!(ct("text/html"));
        assert!(ct("application/problem+json"));
        assert!(ct("application/atom+xml"));
        assert!(ct("image/svg+xml"));
        assert!(ct("text/javascript"));
        assert!(!ct("image/png"));
        assert!(!ct("application/octet-stream"));
        assert!(!ct("text/event-stream"));
        assert!(!compressible(None));
    }

    #[test]
    fn derived_tags_keep_their_quotes_and_weakness() {
        let tag = |v: &'static str, s| derived_tag(&HeaderValue::from_static(v), s);
        assert_eq!(tag("\"abc\"", "-gzip"), "\"abc-gzip\"");
        assert_eq!(tag("W/\"abc\"", "-br"), "W/\"abc-br\"");
        assert_eq!(tag("\"\"", "-gzip"), "\"-gzip\"");
    }

    #[test]
    fn every_available_coding_round_trips_and_bounds_its_output() {
        let data = br#"{"items":[1,2,3],"name":"a fairly repetitive body"}"#.repeat(200);
        for coding in ALL.into_iter().filter(|c| c.is_available()) {
            let packed = coding.compress(&data).expect("compress");
            assert!(packed.len() < data.len() / 4, "{coding:?} compresses");
            assert_eq!(
                coding.decompress(&packed, data.len()).as_deref(),
                Some(&data[..])
            );
            assert_eq!(
                coding.decompress(&packed, data.len() - 1),
                None,
                "over the limit"
            );
            assert_eq!(coding.decompress(b"not compressed", 1 << 20), None);
        }
    }
}

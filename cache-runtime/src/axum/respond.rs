//! Responses: a hit's headers, the cache's own headers on every answer,
//! `304 Not Modified`, the generated `Cache-Control` and `Vary`.

const HIT: HeaderValue = HeaderValue::from_static("HIT");
const STALE: HeaderValue = HeaderValue::from_static("STALE");

use super::conditional::{not_modified, Conditions};
use super::exchange::Exchange;
use super::storable::{CodedBody, StoreDecision};
use crate::entry::decoded::DecodedBodies;
use crate::entry::prepared::Prepared;
use crate::entry::Entry;
use crate::http::encoding::{derived_tag, Accepts, Encoding, OFFLOAD_DECOMPRESS_BYTES};
use crate::http::freshness::format_date;
use crate::http::headers::{add_vary, set_cache_control, CACHE_STATUS, MISS, X_CACHE};
use crate::http::semantics::{cache_status, CacheStatus};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// How a stored entry is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HitKind {
    Fresh,
    /// Past its TTL, inside the stale window, while a refresh runs.
    Stale,
    /// Computed by another request this one waited for.
    Collapsed,
    /// Confirmed by the handler with a `304` and refreshed; `true` when the
    /// refreshed entry was stored.
    Revalidated(bool),
}

impl Exchange {
    pub(super) fn respond_stored(
        &self,
        stored: StoreDecision,
        conditional: &Conditions,
    ) -> Response {
        let outcome = CacheStatus::UriMiss {
            stored: stored.stored,
            detail: stored.detail,
        };
        let (response, etag) = match stored.coded {
            Some(coded) => self.show(stored.response, stored.etag, &coded, conditional.accepts),
            None => (stored.response, stored.etag),
        };
        self.respond(response, outcome, etag, conditional)
    }

    /// A miss's `response` (tagged `etag`), whose entry holds `coded`, as
    /// a request that takes `accepts` gets it: the representation a hit
    /// would show it (see [`represent`]), and its tag.
    fn show(
        &self,
        response: Response,
        etag: Option<HeaderValue>,
        coded: &CodedBody,
        accepts: Accepts,
    ) -> (Response, Option<HeaderValue>) {
        let (mut parts, original) = response.into_parts();
        let coding = coded.coding;
        let (replaced, shown) = match (accepts.takes(coding), coded.by_handler) {
            // The cache compressed it, the client takes it.
            (true, false) => (Some(coded.body.clone()), Some(coding)),
            // As the handler sent it.
            (true, true) => (None, Some(coding)),
            // The response's body is the identity already.
            (false, false) => (None, None),
            // Decompressed from the handler's coding.
            (false, true) => match coding.decompress(&coded.body, self.decode_limit()) {
                Some(plain) => (Some(Bytes::from(plain)), None),
                None => (None, Some(coding)),
            },
        };
        let etag = shown_tag(etag.as_ref(), shown, coded.by_handler);
        mark_coding(&mut parts.headers, shown, true);
        if let Some(etag) = &etag {
            parts.headers.insert(header::ETAG, etag.clone());
        }
        let body = match replaced {
            Some(bytes) => {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                Body::from(bytes)
            }
            None => original,
        };
        (Response::from_parts(parts, body), etag)
    }

    /// A miss's response with the cache's headers, or a `304` when the
    /// stored entry's tag matches the request's `If-None-Match`.
    pub(super) fn respond(
        &self,
        mut response: Response,
        outcome: CacheStatus,
        etag: Option<HeaderValue>,
        conditional: &Conditions,
    ) -> Response {
        self.mark(response.headers_mut(), MISS, outcome);
        or_not_modified(response, etag.as_ref(), conditional)
    }

    /// A stored entry as this request gets it; `None` when its body could
    /// not be decompressed for a client that does not take its coding
    /// (counted and logged as a corrupt entry: the caller computes). `now`
    /// is the wall clock in milliseconds, read once for the answer.
    pub(super) fn hit(
        &self,
        entry: &Prepared,
        conditional: &Conditions,
        served: HitKind,
        now: u64,
    ) -> Option<Response> {
        let age = now.saturating_sub(entry.entry().stored_at_ms) / 1000;
        let decoded = (&self.cache.inner.decoded, self.key.as_str());
        let accepts = conditional.accepts;
        let Some(shown) = represent(entry.entry(), accepts, self.decode_limit(), decoded) else {
            self.cache.undecodable(&self.key);
            return None;
        };
        let headers = if served == HitKind::Fresh {
            let variant = shown.variant();
            entry.fresh_head(age, self.policy.route_id(), variant, || {
                self.hit_head(entry.entry(), &shown, age, served)
            })
        } else {
            self.hit_head(entry.entry(), &shown, age, served)
        };
        let status = entry.entry().status;
        let respond = |body: Bytes| {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        };
        // The body moves into the response unless a precondition or a
        // range needs it after (each copy of a reference is a locked
        // instruction).
        Some(if conditional.is_plain() {
            respond(shown.body)
        } else {
            conditional.answer(respond(shown.body.clone()), &shown.body)
        })
    }

    /// The coding a hit on `entry` would decompress a large body from on
    /// the async worker, when it would: the client does not take the
    /// coding, the body is at least [`OFFLOAD_DECOMPRESS_BYTES`], and its
    /// decoded form could be kept but is not yet.
    pub(super) fn large_decode(
        &self,
        entry: &Prepared,
        conditional: &Conditions,
    ) -> Option<Encoding> {
        let entry = entry.entry();
        entry.encoding.filter(|&coding| {
            !conditional.accepts.takes(coding)
                && entry.body.len() >= OFFLOAD_DECOMPRESS_BYTES
                && self
                    .cache
                    .inner
                    .decoded
                    .would_decode(&self.key, entry, self.decode_limit())
        })
    }

    /// Decompresses `entry`'s body on a codec thread when a hit would
    /// otherwise do it on the async worker ([`Self::large_decode`]), and
    /// keeps it for the hit.
    pub(super) async fn decode_ahead(&self, entry: &Prepared, conditional: &Conditions) {
        if let Some(coding) = self.large_decode(entry, conditional) {
            let decoded = &self.cache.inner.decoded;
            decoded
                .decode_ahead(&self.key, entry.entry(), coding, self.decode_limit())
                .await;
        }
    }

    /// The most a stored body may decompress to: well above any body the
    /// cache stores, well below what a corrupt value could claim.
    pub(super) fn decode_limit(&self) -> usize {
        self.body_limit().saturating_mul(16)
    }

    /// The headers of a hit on `entry`, shown as `shown`, `age` seconds
    /// old: the stored ones, the cache's own, and `Content-Length` (which
    /// axum would otherwise work out on every hit).
    fn hit_head(
        &self,
        entry: &Entry,
        shown: &Representation,
        age: u64,
        served: HitKind,
    ) -> HeaderMap {
        let ttl = u64::from(entry.ttl_secs);
        let remaining = ttl.saturating_sub(age);
        let mut headers = HeaderMap::with_capacity(entry.headers.len() + 10);
        if let Some(content_type) = &entry.content_type {
            headers.insert(header::CONTENT_TYPE, content_type.clone());
        }
        if let Some(etag) = shown.etag(entry) {
            headers.insert(header::ETAG, etag);
        }
        for (name, value) in &entry.headers {
            headers.append(name, value.clone());
        }
        shown.mark(&mut headers);
        set_cache_control(&mut headers, self.policy, self.personal(), remaining);
        let (x_cache, outcome) = match served {
            HitKind::Fresh => (HIT, CacheStatus::Hit { ttl: remaining }),
            HitKind::Collapsed => (HIT, CacheStatus::Collapsed { ttl: remaining }),
            HitKind::Revalidated(stored) => (
                HIT,
                CacheStatus::Revalidated {
                    ttl: remaining,
                    stored,
                },
            ),
            HitKind::Stale => (
                STALE,
                CacheStatus::Stale {
                    over: age.saturating_sub(ttl),
                },
            ),
        };
        headers.insert(header::AGE, HeaderValue::from(age));
        // The date of the stored response, consistent with `Age` (RFC 9110
        // §6.6.1, RFC 9111 §4.2.3): `Date` + `Age` is now.
        headers.insert(header::DATE, format_date(entry.stored_at_ms));
        if entry.status == StatusCode::OK {
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        self.mark(&mut headers, x_cache, outcome);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(shown.body.len()));
        headers
    }

    /// The cache's own headers: how it answered, and why.
    pub(super) fn mark(&self, headers: &mut HeaderMap, x_cache: HeaderValue, outcome: CacheStatus) {
        headers.insert(X_CACHE, x_cache);
        headers.insert(
            CACHE_STATUS,
            cache_status(&self.cache.config().status_name, outcome),
        );
    }
}

/// A stored body as one request gets it: as stored, or decompressed for a
/// client that does not take the stored coding.
pub(super) struct Representation {
    pub(super) body: Bytes,
    pub(super) coding: Option<Encoding>,
    /// Whether the entry has representations in other codings.
    negotiated: bool,
}

impl Representation {
    /// The entity tag of this representation of `entry` ([`shown_tag`]).
    /// Made when a header block is, not on every hit.
    fn etag(&self, entry: &Entry) -> Option<HeaderValue> {
        if self.negotiated {
            shown_tag(entry.etag.as_ref(), self.coding, entry.encoded_by_handler)
        } else {
            entry.etag.clone()
        }
    }

    /// Which of the entry's representations this is, for the remembered
    /// header block: 0 the only one, 1 the stored coding, 2 decompressed.
    fn variant(&self) -> u8 {
        match (self.negotiated, self.coding) {
            (false, _) => 0,
            (true, Some(_)) => 1,
            (true, None) => 2,
        }
    }

    /// Puts the representation's `Content-Encoding` and, when the entry
    /// has others, `Vary: Accept-Encoding` in `headers`.
    fn mark(&self, headers: &mut HeaderMap) {
        mark_coding(headers, self.coding, self.negotiated);
    }
}

/// `Content-Encoding: coding` (none for the identity) and, for an entry
/// with several representations (`negotiated`), `Vary: Accept-Encoding`.
fn mark_coding(headers: &mut HeaderMap, coding: Option<Encoding>, negotiated: bool) {
    match coding {
        Some(coding) => {
            headers.insert(header::CONTENT_ENCODING, coding.header_value());
        }
        None => {
            headers.remove(header::CONTENT_ENCODING);
        }
    }
    if negotiated {
        add_vary(headers, &["accept-encoding"]);
    }
}

/// The entity tag of a representation in `shown` (`None`: the identity)
/// of a body tagged `tag`, coded by the handler (`by_handler`) or by the
/// cache: the representation the tag was made for keeps it; the other
/// gets `-<coding>` (the cache's coding) or `-identity` (the handler's
/// body decompressed) inside its quotes (RFC 9110 §8.8.3).
fn shown_tag(
    tag: Option<&HeaderValue>,
    shown: Option<Encoding>,
    by_handler: bool,
) -> Option<HeaderValue> {
    let suffix = match (shown, by_handler) {
        (Some(coding), false) => coding.tag_suffix(),
        (None, true) => "-identity",
        _ => return tag.cloned(),
    };
    tag.map(|tag| derived_tag(tag, suffix))
}

/// `entry`'s body as a client that takes `accepts` gets it: the stored
/// bytes when it takes their coding (or they have none), else decompressed
/// (at most `limit` bytes, through `decoded`'s table of bodies kept for
/// the entry under that key; `None` when that fails).
pub(super) fn represent(
    entry: &Entry,
    accepts: Accepts,
    limit: usize,
    decoded: (&DecodedBodies, &str),
) -> Option<Representation> {
    let Some(coding) = entry.encoding else {
        return Some(Representation {
            body: entry.body.clone(),
            coding: None,
            negotiated: false,
        });
    };
    let (body, shown) = if accepts.takes(coding) {
        (entry.body.clone(), Some(coding))
    } else {
        let (bodies, key) = decoded;
        (bodies.identity(key, entry, coding, limit)?, None)
    };
    Some(Representation {
        body,
        coding: shown,
        negotiated: true,
    })
}

/// `response`, or a `304` standing for it when it was stored (it has the
/// entity tag `etag`) and the request's preconditions say it is not
/// modified.
pub(super) fn or_not_modified(
    response: Response,
    etag: Option<&HeaderValue>,
    conditional: &Conditions,
) -> Response {
    if etag.is_some() && conditional.not_modified(response.status(), response.headers()) {
        return not_modified(response.headers());
    }
    response
}

//! Responses: a hit's headers, the cache's own headers on every answer,
//! `304 Not Modified`, the generated `Cache-Control` and `Vary`.

/// The response header saying how the cache answered: `HIT`, `STALE` or
/// `MISS`.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
pub(super) const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
const HIT: HeaderValue = HeaderValue::from_static("HIT");
const STALE: HeaderValue = HeaderValue::from_static("STALE");
pub(super) const MISS: HeaderValue = HeaderValue::from_static("MISS");

use super::conditional::{not_modified, Conditions};
use super::flow::Route;
use super::storable::{Coded, Stored};
use crate::clock::now_ms;
use crate::encoding::{derived_tag, Accepts, Encoding};
use crate::entry::prepared::Prepared;
use crate::entry::Entry;
use crate::freshness::format_date;
use crate::policy::RoutePolicy;
use crate::semantics::{cache_status, header_value, push_decimal, Outcome};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};

/// How a stored entry is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    Fresh,
    /// Past its TTL, inside the stale window, while a refresh runs.
    Stale,
    /// Computed by another request this one waited for.
    Collapsed,
    /// Confirmed by the handler with a `304` and refreshed; `true` when the
    /// refreshed entry was stored.
    Revalidated(bool),
}

impl Route {
    pub(super) fn respond_stored(&self, stored: Stored, conditional: &Conditions) -> Response {
        let outcome = Outcome::UriMiss {
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
        coded: &Coded,
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
        outcome: Outcome,
        etag: Option<HeaderValue>,
        conditional: &Conditions,
    ) -> Response {
        self.mark(response.headers_mut(), MISS, outcome);
        or_not_modified(response, etag.as_ref(), conditional)
    }

    /// A stored entry as this request gets it; `None` when its body could
    /// not be decompressed for a client that does not take its coding
    /// (counted and logged as a corrupt entry: the caller computes).
    pub(super) fn hit(
        &self,
        entry: &Prepared,
        conditional: &Conditions,
        served: Served,
    ) -> Option<Response> {
        let age = now_ms().saturating_sub(entry.entry().stored_at_ms) / 1000;
        let Some(shown) = represent(entry.entry(), conditional.accepts, self.decode_limit()) else {
            self.cache.undecodable(&self.key);
            return None;
        };
        let headers = if served == Served::Fresh {
            let variant = shown.variant();
            entry.fresh_head(age, self.policy.route_id(), variant, || {
                self.hit_head(entry.entry(), &shown, age, served)
            })
        } else {
            self.hit_head(entry.entry(), &shown, age, served)
        };
        let entry = entry.entry();
        let mut response = Response::new(Body::from(shown.body.clone()));
        *response.status_mut() = entry.status;
        *response.headers_mut() = headers;
        Some(conditional.answer(response, &shown.body))
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
        served: Served,
    ) -> HeaderMap {
        let ttl = u64::from(entry.ttl_secs);
        let remaining = ttl.saturating_sub(age);
        let mut headers = HeaderMap::with_capacity(entry.headers.len() + 10);
        if let Some(content_type) = &entry.content_type {
            headers.insert(header::CONTENT_TYPE, content_type.clone());
        }
        if let Some(etag) = &shown.etag {
            headers.insert(header::ETAG, etag.clone());
        }
        for (name, value) in &entry.headers {
            headers.append(name, value.clone());
        }
        shown.mark(&mut headers);
        set_cache_control(&mut headers, self.policy, self.personal(), remaining);
        let (x_cache, outcome) = match served {
            Served::Fresh => (HIT, Outcome::Hit { ttl: remaining }),
            Served::Collapsed => (HIT, Outcome::Collapsed { ttl: remaining }),
            Served::Revalidated(stored) => (
                HIT,
                Outcome::Revalidated {
                    ttl: remaining,
                    stored,
                },
            ),
            Served::Stale => (
                STALE,
                Outcome::Stale {
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
    pub(super) fn mark(&self, headers: &mut HeaderMap, x_cache: HeaderValue, outcome: Outcome) {
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
    pub(super) etag: Option<HeaderValue>,
    /// Whether the entry has representations in other codings.
    negotiated: bool,
}

impl Representation {
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
/// (at most `limit` bytes; `None` when that fails), with its own entity
/// tag ([`shown_tag`]).
pub(super) fn represent(entry: &Entry, accepts: Accepts, limit: usize) -> Option<Representation> {
    let Some(coding) = entry.encoding else {
        return Some(Representation {
            body: entry.body.clone(),
            coding: None,
            etag: entry.etag.clone(),
            negotiated: false,
        });
    };
    let (body, shown) = if accepts.takes(coding) {
        (entry.body.clone(), Some(coding))
    } else {
        (Bytes::from(coding.decompress(&entry.body, limit)?), None)
    };
    Some(Representation {
        body,
        coding: shown,
        etag: shown_tag(entry.etag.as_ref(), shown, entry.encoded_by_handler),
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

/// Sets the `Cache-Control` the cache sends with a cacheable response:
/// the handler's own, else the route's, else `public` with the remaining
/// lifetime. On a route whose keys carry a credential (`personal`, see
/// [`super::keys_credentials`]) it is always `private`: a handler's or
/// route's `public` or `s-maxage` would let a shared cache downstream
/// serve one user's response to another.
pub(super) fn set_cache_control(
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
pub(super) fn add_vary(headers: &mut HeaderMap, names: &[&'static str]) {
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

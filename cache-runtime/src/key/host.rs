//! The request's host, as the key sees it (RFC 9110 §7.2, RFC 9112 §3.2):
//! the authority of the request target when the request has one (an
//! absolute-form target, or HTTP/2's `:authority`), else the `Host` header,
//! lower-cased and without the scheme's default port (`Example.com:80` is
//! `example.com` over `http`, RFC 9110 §4.2.3).
//!
//! `Forwarded` (RFC 7239) and `X-Forwarded-Host` are read only when the
//! cache is told to trust them (`trust_forwarded_host`): any client can send
//! them. Proxies append their value to what they received, so the value
//! that counts is the one the nearest trusted proxy wrote: with
//! `trusted_proxies = n`, the `n`-th value from the right (the leftmost when
//! there are fewer). Values to its left were written by the client.
//!
//! A handler reading the host through axum-extra's `Host` sees the
//! *leftmost* `Forwarded` host, else the whole first `X-Forwarded-Host`,
//! else `Host`, else the target's authority. Where that can differ from the
//! host the key carries (a client wrote its own forwarded value in front of
//! the proxies', or the target's authority and `Host` disagree), the request
//! names its host inconsistently: a route keyed on the host then bypasses
//! the cache for it, so that no response made for one host is stored under
//! another's key.

use http::{header, request::Parts, Uri};

/// The host a request names, as far as the key is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestHost<'a> {
    /// No host at all (an HTTP/1.0 request without `Host`).
    Missing,
    /// The host (`name[:port]`, not yet canonical) and whether the scheme
    /// is `https` (whose default port is 443 rather than 80).
    Named { host: &'a [u8], https: bool },
    /// The request's host sources disagree (see the module docs).
    Conflicting,
}

/// The host the key carries for a request with target `uri`, trusting the
/// forwarded headers of `trusted_proxies` proxies (0: not at all).
pub(crate) fn request_host<'a>(
    parts: &'a Parts,
    uri: &'a Uri,
    trusted_proxies: usize,
) -> RequestHost<'a> {
    if trusted_proxies > 0 {
        match forwarded_host(parts, trusted_proxies) {
            Forwarded::Host { host, https } => {
                let https = https || uri.scheme_str() == Some("https");
                return RequestHost::Named { host, https };
            }
            Forwarded::Conflicting => return RequestHost::Conflicting,
            Forwarded::None => {}
        }
    }
    let https = uri.scheme_str() == Some("https");
    let header = parts
        .headers
        .get(header::HOST)
        .map(|value| value.as_bytes());
    if let Some(authority) = uri.authority() {
        // Without userinfo: `user@host` names the same host.
        let text = authority.as_str();
        let host = text.rsplit_once('@').map_or(text, |(_, host)| host);
        let host = host.as_bytes();
        if header.is_some_and(|named| !same_host(named, host, https)) {
            return RequestHost::Conflicting;
        }
        return RequestHost::Named { host, https };
    }
    match header {
        Some(host) => RequestHost::Named { host, https },
        None => RequestHost::Missing,
    }
}

/// `host` without the scheme's default port (`:80`, or `:443` over
/// `https`); the key lower-cases it.
pub(crate) fn without_default_port(host: &[u8], https: bool) -> &[u8] {
    let port: &[u8] = if https { b":443" } else { b":80" };
    match host.strip_suffix(port) {
        // Not `[::1]:80`'s `:80` inside the brackets: a port follows a
        // name, a `]`, or digits and dots of an IPv4 address.
        Some(name) if !name.is_empty() && !name.ends_with(b":") => name,
        _ => host,
    }
}

fn same_host(a: &[u8], b: &[u8], https: bool) -> bool {
    without_default_port(trim(a), https).eq_ignore_ascii_case(without_default_port(b, https))
}

/// What the forwarded headers say of the host.
enum Forwarded<'a> {
    /// Neither header names a host.
    None,
    Host {
        host: &'a [u8],
        https: bool,
    },
    Conflicting,
}

/// The nearest trusted proxy's `Forwarded: host=…`, else its
/// `X-Forwarded-Host` (see the module docs).
fn forwarded_host(parts: &Parts, trusted: usize) -> Forwarded<'_> {
    let elements = members(parts, header::FORWARDED);
    if let Some(chosen) = nearest(&elements, trusted) {
        let host = param(elements[chosen], b"host");
        // axum-extra's `Host` shows the handler the leftmost element's:
        // one the client wrote must not differ from the trusted one.
        let forged = elements[..chosen]
            .iter()
            .filter_map(|element| param(element, b"host"))
            .any(|written| Some(written) != host);
        if forged {
            return Forwarded::Conflicting;
        }
        if let Some(host) = host {
            let https = param(elements[chosen], b"proto")
                .is_some_and(|proto| proto.eq_ignore_ascii_case(b"https"));
            return Forwarded::Host { host, https };
        }
    }
    let values = members(parts, "x-forwarded-host");
    let Some(chosen) = nearest(&values, trusted) else {
        return Forwarded::None;
    };
    if values[chosen].is_empty() {
        return Forwarded::None;
    }
    if values[..chosen].iter().any(|v| *v != values[chosen]) {
        return Forwarded::Conflicting;
    }
    let protos = members(parts, "x-forwarded-proto");
    let https = nearest(&protos, trusted).is_some_and(|i| protos[i].eq_ignore_ascii_case(b"https"));
    Forwarded::Host {
        host: values[chosen],
        https,
    }
}

/// The comma-separated members of every `name` field, in order, trimmed:
/// what each proxy appended.
fn members(parts: &Parts, name: impl header::AsHeaderName) -> Vec<&[u8]> {
    parts
        .headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(trim)
        .collect()
}

/// The index of the value the nearest trusted proxy wrote: the
/// `trusted`-th from the right, or the leftmost when there are fewer.
fn nearest<T>(values: &[T], trusted: usize) -> Option<usize> {
    if values.is_empty() {
        return None;
    }
    Some(values.len().saturating_sub(trusted))
}

/// The value of `name` in one `Forwarded` element (`a=1;host="x"`),
/// unquoted, if present and not empty.
fn param<'a>(element: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    element.split(|&b| b == b';').find_map(|pair| {
        let pair = trim(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        if !pair[..eq].eq_ignore_ascii_case(name) {
            return None;
        }
        let value = trim(&pair[eq + 1..]);
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        (!value.is_empty()).then_some(value)
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(request: http::Request<()>, trusted: usize) -> Option<String> {
        let (parts, ()) = request.into_parts();
        match request_host(&parts, &parts.uri, trusted) {
            RequestHost::Named { host, https } => Some(format!(
                "{}{}",
                String::from_utf8_lossy(without_default_port(host, https)),
                if https { " (https)" } else { "" }
            )),
            RequestHost::Missing => None,
            RequestHost::Conflicting => Some("CONFLICT".to_owned()),
        }
    }

    fn get(uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut request = http::Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap()
    }

    #[test]
    fn the_target_authority_then_host() {
        let absolute = get("http://a.example:8080/x", &[]);
        assert_eq!(host(absolute, 0).as_deref(), Some("a.example:8080"));
        let origin = get("/x", &[("host", "b.example")]);
        assert_eq!(host(origin, 0).as_deref(), Some("b.example"));
        assert_eq!(host(get("/x", &[]), 0), None);
        // An authority and a `Host` that disagree: the handler may see
        // either.
        let both = get("http://a.example/x", &[("host", "b.example")]);
        assert_eq!(host(both, 0).as_deref(), Some("CONFLICT"));
        let agree = get("http://a.example/x", &[("host", "a.example:80")]);
        assert_eq!(host(agree, 0).as_deref(), Some("a.example"));
    }

    #[test]
    fn default_ports_are_dropped_for_their_scheme_only() {
        assert_eq!(
            without_default_port(b"example.com:80", false),
            b"example.com"
        );
        assert_eq!(
            without_default_port(b"example.com:443", true),
            b"example.com"
        );
        assert_eq!(
            without_default_port(b"example.com:443", false),
            b"example.com:443"
        );
        assert_eq!(
            without_default_port(b"example.com:8080", false),
            b"example.com:8080"
        );
        assert_eq!(without_default_port(b"[::1]:80", false), b"[::1]");
        assert_eq!(without_default_port(b"[::80]", false), b"[::80]");
        assert_eq!(without_default_port(b":80", false), b":80");
        let https = get("https://example.com:443/x", &[]);
        assert_eq!(host(https, 0).as_deref(), Some("example.com (https)"));
    }

    #[test]
    fn forwarded_hosts_count_only_when_trusted_and_from_the_nearest_proxy() {
        let request = || {
            get(
                "/x",
                &[
                    ("host", "internal:3000"),
                    ("forwarded", "for=1.2.3.4;host=\"Shop.Example\";proto=https"),
                    ("x-forwarded-host", "xfh.example"),
                ],
            )
        };
        assert_eq!(host(request(), 0).as_deref(), Some("internal:3000"));
        assert_eq!(host(request(), 1).as_deref(), Some("Shop.Example (https)"));
        // Appended by two proxies, the outer one first: two trusted read
        // the outer one's, one trusted reads the inner one's, and the
        // handler (leftmost) sees the outer one's: they conflict.
        let chain = || {
            get(
                "/x",
                &[
                    ("host", "internal:3000"),
                    ("x-forwarded-host", "public.example, lb.internal"),
                ],
            )
        };
        assert_eq!(host(chain(), 2).as_deref(), Some("public.example"));
        assert_eq!(host(chain(), 1).as_deref(), Some("CONFLICT"));
        // A client's own value in front of the one trusted proxy's.
        let forged = get(
            "/x",
            &[(
                "forwarded",
                "host=evil.example, for=1.2.3.4;host=shop.example",
            )],
        );
        assert_eq!(host(forged, 1).as_deref(), Some("CONFLICT"));
        // Fewer values than trusted proxies: the leftmost.
        let single = get("/x", &[("x-forwarded-host", " xfh.example ")]);
        assert_eq!(host(single, 3).as_deref(), Some("xfh.example"));
        let proto = get(
            "/x",
            &[
                ("x-forwarded-host", "xfh.example:443"),
                ("x-forwarded-proto", "https"),
            ],
        );
        assert_eq!(host(proto, 1).as_deref(), Some("xfh.example (https)"));
    }
}

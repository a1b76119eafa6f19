//! The request's host, as the key sees it (RFC 9110 §7.2, RFC 9112 §3.2):
//! the authority of the request target when the request has one (an
//! absolute-form target, or HTTP/2's `:authority`), else the `Host` header.
//! `Forwarded` (RFC 7239) and `X-Forwarded-Host` are read only when the
//! cache is told to trust them: any client can send them.

use http::{header, request::Parts, Uri};

/// The host the key carries for a request with target `uri`, or `None`
/// when the request names none.
pub(super) fn request_host<'a>(
    parts: &'a Parts,
    uri: &'a Uri,
    trust_forwarded: bool,
) -> Option<&'a [u8]> {
    if trust_forwarded {
        if let Some(host) = forwarded_host(parts) {
            return Some(host);
        }
    }
    if let Some(authority) = uri.authority() {
        // Without userinfo: `user@host` names the same host.
        let text = authority.as_str();
        let host = text.rsplit_once('@').map_or(text, |(_, host)| host);
        return Some(host.as_bytes());
    }
    parts
        .headers
        .get(header::HOST)
        .map(|value| value.as_bytes())
}

/// The first proxy's view of the host: `Forwarded: host=…` (its first
/// element), else the first `X-Forwarded-Host` value.
fn forwarded_host(parts: &Parts) -> Option<&[u8]> {
    if let Some(forwarded) = parts.headers.get(header::FORWARDED) {
        let first = forwarded.as_bytes().split(|&b| b == b',').next()?;
        for pair in first.split(|&b| b == b';') {
            let pair = trim(pair);
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].eq_ignore_ascii_case(b"host") {
                let value = trim(&pair[eq + 1..]);
                let value = value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value);
                if !value.is_empty() {
                    return Some(value);
                }
            }
        }
    }
    let forwarded = parts.headers.get("x-forwarded-host")?;
    let first = trim(forwarded.as_bytes().split(|&b| b == b',').next()?);
    (!first.is_empty()).then_some(first)
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

    fn host(request: http::Request<()>, trust: bool) -> Option<String> {
        let (parts, ()) = request.into_parts();
        request_host(&parts, &parts.uri, trust).map(|h| String::from_utf8_lossy(h).into_owned())
    }

    #[test]
    fn the_target_authority_wins_over_host_then_host() {
        let absolute = http::Request::get("http://a.example:8080/x")
            .header("host", "b.example")
            .body(())
            .unwrap();
        assert_eq!(host(absolute, false).as_deref(), Some("a.example:8080"));
        let origin = http::Request::get("/x")
            .header("host", "b.example")
            .body(())
            .unwrap();
        assert_eq!(host(origin, false).as_deref(), Some("b.example"));
        let none = http::Request::get("/x").body(()).unwrap();
        assert_eq!(host(none, false), None);
    }

    #[test]
    fn forwarded_hosts_count_only_when_trusted() {
        let request = || {
            http::Request::get("/x")
                .header("host", "internal:3000")
                .header(
                    "forwarded",
                    "for=1.2.3.4;host=\"Shop.Example\";proto=https, host=other",
                )
                .header("x-forwarded-host", "xfh.example, proxy")
                .body(())
                .unwrap()
        };
        assert_eq!(host(request(), false).as_deref(), Some("internal:3000"));
        assert_eq!(host(request(), true).as_deref(), Some("Shop.Example"));
        let xfh = http::Request::get("/x")
            .header("host", "internal:3000")
            .header("x-forwarded-host", " xfh.example , proxy")
            .body(())
            .unwrap();
        assert_eq!(host(xfh, true).as_deref(), Some("xfh.example"));
    }
}

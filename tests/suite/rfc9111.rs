//! HTTP correctness to RFC 9110/9111, end to end on a real server on
//! loopback and every backend (`backend_matrix!`). Each test names the
//! section it checks; the guide's `http` chapter (`cache-runtime/guide/http.md`)
//! lists them.

use crate::support;

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
    Router,
};
use bytes::Bytes;
use cache_runtime::{cached_route, RouteCacheBuilder};
use http::Method;
use std::time::{Duration, SystemTime};
use support::{Backend, Calls, Fixture, Reply, TestApp};

/// Builds absolute links from `Host`, as many handlers do: keyed on the
/// host (`host = true`), it reads no header the key does not cover.
#[cached_route(ttl = 3600, host = true, allow_unkeyed = true)]
async fn links(State(calls): State<Calls>, headers: HeaderMap) -> String {
    calls.record("links");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    format!("<a href=\"https://{host}/next\">next</a>")
}

/// Says it is the same for every host.
#[cached_route(ttl = 3600, host = false)]
async fn any_host(State(calls): State<Calls>) -> String {
    format!("run {}", calls.record("any_host"))
}

#[cached_route(ttl = 3600, negative = [404, 410], negative_ttl = 1)]
async fn lookup(State(calls): State<Calls>, Path(code): Path<u16>) -> StatusCode {
    calls.record("lookup");
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

/// Answers with the headers the query names: `?h=name:value&h=…`.
#[cached_route(ttl = 3600)]
async fn shaped(
    State(calls): State<Calls>,
    Path(name): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> impl IntoResponse {
    let run = calls.record("shaped");
    let mut headers = HeaderMap::new();
    for pair in query.unwrap_or_default().split('&') {
        let Some(spec) = pair.strip_prefix("h=") else {
            continue;
        };
        let spec = spec
            .replace("%20", " ")
            .replace("%2C", ",")
            .replace("%26", "&");
        if let Some((n, v)) = spec.split_once(':') {
            headers.append(
                header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
    }
    (headers, format!("{name} run {run}: 0123456789"))
}

/// Names of `flaky` entries whose handler currently fails.
static FAILING: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// One second fresh, then stale while revalidating (`swr`) or only on
/// error (`sie`); fails with 503 while its name is in `FAILING`.
#[cached_route(ttl = 3600)]
async fn flaky(
    State(calls): State<Calls>,
    Path((mode, name)): Path<(String, String)>,
) -> impl IntoResponse {
    let run = calls.record(if mode == "swr" {
        "flaky_swr"
    } else {
        "flaky_sie"
    });
    if FAILING.lock().unwrap().contains(&name) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            HeaderMap::new(),
            "down".to_owned(),
        );
    }
    let directive = if mode == "swr" {
        "stale-while-revalidate"
    } else {
        "stale-if-error"
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        format!("max-age=1, {directive}=30").parse().unwrap(),
    );
    (StatusCode::OK, headers, format!("run {run}"))
}

/// Names of `streamed` responses whose second chunk may go.
static OPENED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A body of unknown length, fed from a channel.
struct Channel(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Channel {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// Sends `first` at once, then `rest` once `gate` (if any) is opened.
fn chunked(first: &'static str, rest: &'static str, gate: Option<String>) -> axum::body::Body {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let _ = tx.send(Bytes::from_static(first.as_bytes())).await;
        if let Some(gate) = gate {
            while !OPENED.lock().unwrap().contains(&gate) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let _ = tx.send(Bytes::from_static(rest.as_bytes())).await;
    });
    axum::body::Body::new(Channel(rx))
}

#[cached_route(ttl = 3600)]
async fn streamed(State(calls): State<Calls>, Path(name): Path<String>) -> axum::body::Body {
    calls.record("streamed");
    chunked("alpha-", "omega", Some(name))
}

#[cached_route(ttl = 3600, max_body = 8)]
async fn streamed_big(State(calls): State<Calls>) -> axum::body::Body {
    calls.record("streamed_big");
    chunked("0123456789", "abcdefghij", None)
}

#[cached_route(ttl = 3600)]
async fn events(State(calls): State<Calls>) -> impl IntoResponse {
    calls.record("events");
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        chunked("data: 1\n\n", "data: 2\n\n", None),
    )
}

/// The current version of each `versioned` resource, by name.
static VERSIONS: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());

fn version_of(name: &str) -> u32 {
    VERSIONS
        .lock()
        .unwrap()
        .iter()
        .find(|(n, _)| n == name)
        .map_or(1, |(_, v)| *v)
}

/// Checks its version column cheaply: a matching `If-None-Match` gets a
/// `304` carrying an updated header.
#[cached_route(ttl = 1, revalidate = true, allow_unkeyed = true)]
async fn versioned(
    State(calls): State<Calls>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let run = calls.record("versioned");
    let etag = format!("\"v{}\"", version_of(&name));
    let fields = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "max-age=1".to_owned()),
        (
            header::HeaderName::from_static("x-checked"),
            format!("run {run}"),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, fields).into_response();
    }
    (
        fields,
        format!("version {} from run {run}", version_of(&name)),
    )
        .into_response()
}

/// Revalidates through its handler; the `304` it answers carries what
/// `mode` names: nothing more (`plain`), `no-store`, `private`, a
/// `Set-Cookie` (`cookie`) or `Vary` on a header the key leaves out
/// (`vary`).
#[cached_route(ttl = 1, revalidate = true, allow_unkeyed = true)]
async fn merged(
    State(calls): State<Calls>,
    Path(mode): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    calls.record(merge_mode(&mode));
    let fields = [
        (header::ETAG, "\"m1\""),
        (header::CACHE_CONTROL, "max-age=1"),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_none_or(|v| v != "\"m1\"")
    {
        return (fields, format!("body {mode}")).into_response();
    }
    let mut response = (StatusCode::NOT_MODIFIED, fields).into_response();
    let extra = match mode.as_str() {
        "no-store" => Some((header::CACHE_CONTROL, "no-store")),
        "private" => Some((header::CACHE_CONTROL, "private, max-age=1")),
        "cookie" => Some((header::SET_COOKIE, "session=from-304")),
        "vary" => Some((header::VARY, "x-unkeyed")),
        _ => None,
    };
    if let Some((name, value)) = extra {
        response
            .headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Revalidates through its handler, per language: its entity tag names
/// the language it rendered, and it confirms a validator only for the
/// language the request carries, as a handler that checks its data would.
#[cached_route(ttl = 1, revalidate = true, vary = ["accept-language"])]
async fn greeting(State(calls): State<Calls>, headers: HeaderMap) -> axum::response::Response {
    calls.record("greeting");
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let etag = format!("\"{lang}\"");
    let fields = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "max-age=1".to_owned()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, fields).into_response();
    }
    (fields, format!("hello in {lang}")).into_response()
}

const MERGE_MODES: [&str; 5] = ["plain", "no-store", "private", "cookie", "vary"];

/// `mode` as one of [`MERGE_MODES`], to count its runs by.
fn merge_mode(mode: &str) -> &'static str {
    MERGE_MODES
        .into_iter()
        .find(|m| *m == mode)
        .unwrap_or("unknown")
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/merged/{mode}", get(merged))
        .route("/greeting", get(greeting))
        .route("/versioned/{name}", get(versioned))
        .route("/stream/{name}", get(streamed))
        .route("/stream-big", get(streamed_big))
        .route("/events", get(events))
        .route("/flaky/{mode}/{name}", get(flaky))
        .route("/links", get(links))
        .route("/any-host", get(any_host))
        .route("/lookup/{code}", get(lookup))
        .route("/shaped/{name}", get(shaped))
        .with_state(calls)
}

struct Setup {
    app: TestApp,
    fixture: Fixture,
}

async fn setup(
    backend: Backend,
    test: &str,
    configure: impl FnOnce(RouteCacheBuilder) -> RouteCacheBuilder,
) -> Setup {
    let fixture = Fixture::with(backend, test, configure).await;
    let calls = Calls::default();
    let app = TestApp::serve(router(calls.clone()).layer(fixture.cache.layer()), calls).await;
    Setup { app, fixture }
}

impl Setup {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.app
            .request(Method::GET, path, headers, Bytes::new())
            .await
    }

    /// Two `GET`s of `path` are both misses: its answer is not stored.
    async fn never_stored(&self, path: &str, why: &str) {
        for _ in 0..2 {
            assert_eq!(self.get(path, &[]).await.x_cache(), "MISS", "{why}");
        }
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.header(name)
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

/// RFC 9110 §7.2 (`Host` names the target's authority); web cache
/// poisoning: a response built from one host's `Host` is never served to
/// another host, and `invalidate(path)` still reaches every host.
async fn the_host_is_part_of_every_key(backend: Backend) {
    let s = setup(backend, "rfc_host", |b| b).await;
    let evil = s.get("/links", &[("host", "evil.example")]).await;
    assert_eq!(evil.x_cache(), "MISS");
    let good = s.get("/links", &[("host", "shop.example")]).await;
    assert_eq!(good.x_cache(), "MISS", "another host is another entry");
    assert!(
        text(&good).contains("https://shop.example/next"),
        "{}",
        text(&good)
    );
    let again = s.get("/links", &[("host", "SHOP.example")]).await;
    assert_eq!(again.x_cache(), "HIT", "hosts compare case-insensitively");
    assert_eq!(again.body, good.body);
    // A forged host that ends where a path begins is its own entry.
    let forged = s.get("/links", &[("host", "shop.example/links")]).await;
    assert_eq!(forged.x_cache(), "MISS");
    let removed = s.fixture.cache.invalidate("/links").await.unwrap();
    assert_eq!(removed, 3, "one path, every host");
    assert_eq!(
        s.get("/links", &[("host", "shop.example")]).await.x_cache(),
        "MISS"
    );
}

/// Forwarded host headers (RFC 7239 §5.3, `X-Forwarded-Host`) split
/// entries only when the cache is told to trust them; a route may declare
/// that every host gets the same response.
async fn forwarded_hosts_count_only_when_trusted(backend: Backend) {
    let s = setup(backend, "rfc_fwd", |b| b).await;
    let first = s.get("/links", &[("x-forwarded-host", "a.example")]).await;
    assert_eq!(first.x_cache(), "MISS");
    let second = s.get("/links", &[("x-forwarded-host", "b.example")]).await;
    assert_eq!(
        second.x_cache(),
        "HIT",
        "untrusted: clients can send anything"
    );

    let t = setup(backend, "rfc_fwd_trusted", |b| b.trust_forwarded_host(true)).await;
    let a = t.get("/links", &[("x-forwarded-host", "a.example")]).await;
    let b = t
        .get("/links", &[("forwarded", "for=10.0.0.1;host=b.example")])
        .await;
    assert_eq!((a.x_cache(), b.x_cache()), ("MISS", "MISS"));
    let a_again = t.get("/links", &[("x-forwarded-host", "a.example")]).await;
    assert_eq!(a_again.x_cache(), "HIT");

    for host in ["one.example", "two.example"] {
        let reply = s.get("/any-host", &[("host", host)]).await;
        assert_eq!(text(&reply), "run 1", "host = false: one entry for {host}");
    }
}

/// RFC 9110 §15.1 and RFC 9111 §3: 404 and 410 are stored only because the
/// route opts in (`negative`), for their own TTL; 5xx never.
async fn negative_caching_is_opt_in_and_short(backend: Backend) {
    let s = setup(backend, "rfc_negative", |b| b).await;
    for code in ["404", "410"] {
        let path = format!("/lookup/{code}");
        let miss = s.get(&path, &[]).await;
        assert_eq!((miss.status.as_str(), miss.x_cache()), (code, "MISS"));
        let hit = s.get(&path, &[]).await;
        assert_eq!((hit.status.as_str(), hit.x_cache()), (code, "HIT"));
        assert!(
            hit.headers.get("etag").is_none(),
            "no validator on an error"
        );
    }
    for _ in 0..2 {
        let reply = s.get("/lookup/500", &[]).await;
        assert_eq!((reply.status.as_u16(), reply.x_cache()), (500, "MISS"));
        let other = s.get("/lookup/403", &[]).await;
        assert_eq!(other.x_cache(), "MISS", "not listed");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        s.get("/lookup/404", &[]).await.x_cache(),
        "MISS",
        "negative_ttl = 1 s, not the route's hour"
    );
}

/// RFC 9111 §5.3: `Expires` counts; a past or invalid date is stale, so
/// nothing is stored; a future one bounds the entry's life.
async fn expires_counts(backend: Backend) {
    let s = setup(backend, "rfc_expires", |b| b).await;
    let past = http_date(SystemTime::now() - Duration::from_secs(60));
    for (name, value) in [("zero", "0".to_owned()), ("past", past)] {
        let path = format!(
            "/shaped/{name}?h=expires:{}",
            value.replace(' ', "%20").replace(',', "%2C")
        );
        s.never_stored(&path, &format!("Expires {value}")).await;
    }
    let soon = http_date(SystemTime::now() + Duration::from_secs(30));
    let path = format!(
        "/shaped/soon?h=expires:{}",
        soon.replace(' ', "%20").replace(',', "%2C")
    );
    assert_eq!(s.get(&path, &[]).await.x_cache(), "MISS");
    let hit = s.get(&path, &[]).await;
    assert_eq!(hit.x_cache(), "HIT");
    let max_age = header(&hit, "cache-control")
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    assert!(max_age <= 30, "Expires bounds the life: {max_age}");
}

/// RFC 9111 §4.2.3 and §5.1: a handler's `Age` counts against its
/// freshness; §5.2.2.10: `s-maxage` wins over `max-age` in a shared cache;
/// RFC 9110 §6.6.1: hits carry the stored `Date`, and `Date` + `Age` is
/// the time of the hit.
async fn age_and_s_maxage_count_and_date_is_kept(backend: Backend) {
    let s = setup(backend, "rfc_age", |b| b).await;
    let old = "/shaped/old?h=cache-control:max-age=60&h=age:50";
    assert_eq!(s.get(old, &[]).await.x_cache(), "MISS");
    let hit = s.get(old, &[]).await;
    assert_eq!(hit.x_cache(), "HIT");
    let age: u64 = header(&hit, "age").parse().unwrap();
    assert!(
        (50..=52).contains(&age),
        "the upstream's age is kept: {age}"
    );
    let date = httpdate::parse_http_date(header(&hit, "date")).expect("a Date on hits");
    let now = SystemTime::now();
    let drift = now
        .duration_since(date + Duration::from_secs(age))
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap();
    assert!(
        drift <= Duration::from_secs(2),
        "Date + Age is now: {drift:?}"
    );
    let again = s.get(old, &[]).await;
    assert_eq!(
        header(&again, "date"),
        header(&hit, "date"),
        "the stored Date"
    );

    // A handler's own Date is kept: its apparent age counts (§4.2.3).
    let dated = SystemTime::now() - Duration::from_secs(100);
    let date_text = http_date(dated);
    let path = format!(
        "/shaped/dated?h=cache-control:max-age=600&h=date:{}",
        date_text.replace(' ', "%20").replace(',', "%2C")
    );
    s.get(&path, &[]).await;
    let dated_hit = s.get(&path, &[]).await;
    assert_eq!(dated_hit.x_cache(), "HIT");
    assert_eq!(header(&dated_hit, "date"), date_text, "the handler's Date");
    let age: u64 = header(&dated_hit, "age").parse().unwrap();
    assert!((100..=102).contains(&age), "apparent age: {age}");

    let spent = "/shaped/spent?h=cache-control:max-age=60&h=age:60";
    s.never_stored(spent, "no freshness left").await;
    // §5.1: an `Age` sent as a list (`7200, 0` on one line) is invalid;
    // its first value counts, so the response is stale when it arrives.
    let listed = "/shaped/listed?h=cache-control:max-age=600&h=age:7200%2C%200";
    s.never_stored(listed, "the first of Age's values counts")
        .await;
    let shared = "/shaped/shared?h=cache-control:max-age=600%2C%20s-maxage=0";
    s.never_stored(shared, "s-maxage=0 wins").await;
}

/// RFC 9110 §13.1.3 and §13.2.2: `If-Modified-Since` against the stored
/// `Last-Modified` gets a `304`; `If-None-Match` takes precedence.
async fn if_modified_since_on_hits(backend: Backend) {
    let s = setup(backend, "rfc_ims", |b| b).await;
    let modified = SystemTime::now() - Duration::from_secs(3600);
    let lm = http_date(modified);
    let path = format!(
        "/shaped/lm?h=last-modified:{}",
        lm.replace(' ', "%20").replace(',', "%2C")
    );
    assert_eq!(s.get(&path, &[]).await.x_cache(), "MISS");
    let later = http_date(modified + Duration::from_secs(60));
    let earlier = http_date(modified - Duration::from_secs(60));
    let not_modified = s.get(&path, &[("if-modified-since", &later)]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    let same = s.get(&path, &[("if-modified-since", &lm)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    let changed = s.get(&path, &[("if-modified-since", &earlier)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    let precedence = s
        .get(
            &path,
            &[
                ("if-modified-since", &later),
                ("if-none-match", "\"other\""),
            ],
        )
        .await;
    assert_eq!(precedence.status, StatusCode::OK, "If-None-Match decides");
    assert_eq!(precedence.x_cache(), "HIT");
}

/// RFC 9110 §14.2, §14.4, §15.3.7 and §15.5.17: a single byte range on a
/// hit is a `206` with `Content-Range`; `If-Range` must match; several
/// ranges get the whole `200`; an unsatisfiable one a `416`.
async fn byte_ranges_on_hits(backend: Backend) {
    let s = setup(backend, "rfc_range", |b| b).await;
    let full = s.get("/shaped/r", &[]).await;
    assert_eq!(full.x_cache(), "MISS");
    let body = text(&full);
    let len = body.len();
    let part = s.get("/shaped/r", &[("range", "bytes=0-4")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&part, "content-range"), format!("bytes 0-4/{len}"));
    assert_eq!(text(&part), body[..5]);
    let tail = s.get("/shaped/r", &[("range", "bytes=-3")]).await;
    assert_eq!(text(&tail), body[len - 3..]);
    assert_eq!(header(&tail, "content-length"), "3");
    let beyond = s.get("/shaped/r", &[("range", "bytes=9999-")]).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&beyond, "content-range"), format!("bytes */{len}"));
    let several = s.get("/shaped/r", &[("range", "bytes=0-1,4-5")]).await;
    assert_eq!((several.status, several.body.len()), (StatusCode::OK, len));
    let etag = header(&full, "etag").to_owned();
    let matching = s
        .get("/shaped/r", &[("range", "bytes=0-1"), ("if-range", &etag)])
        .await;
    assert_eq!(matching.status, StatusCode::PARTIAL_CONTENT);
    let stale = s
        .get(
            "/shaped/r",
            &[("range", "bytes=0-1"), ("if-range", "\"older\"")],
        )
        .await;
    assert_eq!((stale.status, stale.body.len()), (StatusCode::OK, len));
    let hit = s.get("/shaped/r", &[]).await;
    assert_eq!(header(&hit, "accept-ranges"), "bytes");
    assert_eq!(s.app.calls.get("shaped"), 1, "all of it from the one entry");
}

/// RFC 9213 §2.2: a targeted field (`CDN-Cache-Control` by default)
/// governs this cache in place of `Cache-Control`, which clients still get
/// unchanged; the cache can name another field or turn targeting off.
async fn targeted_cache_control_governs_this_cache(backend: Backend) {
    let s = setup(backend, "rfc_targeted", |b| b).await;
    let stored = "/shaped/a?h=cache-control:no-store&h=cdn-cache-control:max-age=60";
    assert_eq!(s.get(stored, &[]).await.x_cache(), "MISS");
    let hit = s.get(stored, &[]).await;
    assert_eq!(hit.x_cache(), "HIT", "CDN-Cache-Control allows it");
    assert_eq!(
        header(&hit, "cache-control"),
        "no-store",
        "clients get theirs"
    );
    let refused = "/shaped/b?h=cache-control:max-age=60&h=cdn-cache-control:no-store";
    s.never_stored(refused, "CDN-Cache-Control refuses it")
        .await;
    // RFC 9213 §2.1: a field that is not a valid RFC 8941 dictionary is
    // ignored as a whole, and `Cache-Control` applies.
    let invalid =
        "/shaped/i?h=cache-control:no-store&h=cdn-cache-control:max-age=10000%2C%20%26%26%26%26%26";
    s.never_stored(invalid, "an invalid CDN-Cache-Control is ignored")
        .await;
    let valid_cc =
        "/shaped/j?h=cache-control:max-age=60&h=cdn-cache-control:max-age=10000%2C%20%26%26";
    s.get(valid_cc, &[]).await;
    assert_eq!(
        s.get(valid_cc, &[]).await.x_cache(),
        "HIT",
        "Cache-Control governs in its place"
    );

    let own = setup(backend, "rfc_targeted_own", |b| {
        b.targeted_cache_control(Some(http::HeaderName::from_static("route-cache-control")))
    })
    .await;
    own.never_stored(stored, "CDN field is the CDN's").await;
    let ours = "/shaped/c?h=cache-control:no-store&h=route-cache-control:max-age=60";
    own.get(ours, &[]).await;
    assert_eq!(own.get(ours, &[]).await.x_cache(), "HIT");

    let off = setup(backend, "rfc_targeted_off", |b| {
        b.targeted_cache_control(None)
    })
    .await;
    off.never_stored(stored, "Cache-Control governs").await;
}

/// RFC 5861 §3: the handler's `stale-while-revalidate` sets the stale
/// window when the route sets none; §4: `stale-if-error` serves the stale
/// entry only when the handler fails.
async fn rfc_5861_directives_set_the_stale_window(backend: Backend) {
    let s = setup(backend, "rfc_5861", |b| b).await;
    let tag = format!("{backend:?}-{}", std::process::id());
    let swr = format!("/flaky/swr/{tag}");
    assert_eq!(s.get(&swr, &[]).await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = s.get(&swr, &[]).await;
    assert_eq!((stale.x_cache(), text(&stale).as_str()), ("STALE", "run 1"));

    let sie = format!("/flaky/sie/{tag}");
    assert_eq!(text(&s.get(&sie, &[]).await), "run 1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let healthy = s.get(&sie, &[]).await;
    assert_eq!(
        healthy.x_cache(),
        "MISS",
        "not stale while the handler answers"
    );
    assert_eq!(text(&healthy), "run 2");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    FAILING.lock().unwrap().push(tag.clone());
    let rescued = s.get(&sie, &[]).await;
    FAILING.lock().unwrap().retain(|t| *t != tag);
    assert_eq!(rescued.status, StatusCode::OK, "the stale entry stands in");
    assert_eq!(
        (rescued.x_cache(), text(&rescued).as_str()),
        ("STALE", "run 2")
    );
}

/// RFC 9112 §6.3 and §7.1: a body of unknown length (chunked) reaches the
/// client as it is produced, nothing read ahead, and is stored once it ends
/// within `max_body`; past it, it passes through and is not stored; event
/// streams are never stored.
async fn bodies_of_unknown_length_stream_and_are_stored(backend: Backend) {
    use http_body_util::BodyExt;
    let s = setup(backend, "rfc_stream", |b| b).await;
    let gate = format!("{backend:?}-{}", std::process::id());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let request = http::Request::get(format!("http://{}/stream/{gate}", s.app.addr))
        .header("host", support::TEST_HOST)
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.headers()["x-cache"], "MISS");
    let mut body = response.into_body();
    // The handler holds its second chunk until the gate opens: the first
    // must already be here, or the cache read ahead.
    let first = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("the first chunk arrives before the body ends")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "alpha-");
    OPENED.lock().unwrap().push(gate.clone());
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "omega");
    // Stored by a task of its own once the body ended.
    let mut hit = None;
    for _ in 0..100 {
        let reply = s.get(&format!("/stream/{gate}"), &[]).await;
        if reply.x_cache() == "HIT" {
            hit = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hit = hit.expect("the streamed response is stored once it ended");
    assert_eq!(text(&hit), "alpha-omega");
    assert!(
        !header(&hit, "etag").is_empty(),
        "an ETag from the whole body"
    );

    for _ in 0..2 {
        let big = s.get("/stream-big", &[]).await;
        assert_eq!(text(&big), "0123456789abcdefghij", "passed through whole");
        assert_eq!(big.x_cache(), "MISS");
        let events = s.get("/events", &[]).await;
        assert_eq!(events.x_cache(), "MISS", "event streams are never stored");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        s.get("/stream-big", &[]).await.x_cache(),
        "MISS",
        "past max_body"
    );
    assert_eq!(s.get("/events", &[]).await.x_cache(), "MISS");
}

/// RFC 9111 §4.3.1, §4.3.3 and §4.3.4: an expired entry with a validator
/// is revalidated through the handler (`revalidate = true`), which sees
/// `If-None-Match`; its `304` refreshes the entry's headers and the stored
/// body is served; a changed resource is a miss.
async fn expired_entries_are_revalidated_through_the_handler(backend: Backend) {
    let s = setup(backend, "rfc_revalidate", |b| b).await;
    let name = format!("{backend:?}-{}", std::process::id());
    let path = format!("/versioned/{name}");
    let first = s.get(&path, &[]).await;
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(text(&first), "version 1 from run 1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let confirmed = s.get(&path, &[]).await;
    assert_eq!(
        confirmed.status,
        StatusCode::OK,
        "the stored body, not the 304"
    );
    assert_eq!(text(&confirmed), "version 1 from run 1");
    assert!(
        header(&confirmed, "cache-status").contains("fwd=stale; fwd-status=304; stored"),
        "{}",
        header(&confirmed, "cache-status")
    );
    assert_eq!(
        header(&confirmed, "x-checked"),
        "run 2",
        "headers from the 304"
    );
    let hit = s.get(&path, &[]).await;
    assert_eq!(hit.x_cache(), "HIT", "fresh again");
    assert_eq!(header(&hit, "x-checked"), "run 2");
    let conditional = s.get(&path, &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(conditional.status, StatusCode::NOT_MODIFIED);

    VERSIONS.lock().unwrap().push((name.clone(), 2));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let changed = s.get(&path, &[]).await;
    assert_eq!(
        changed.x_cache(),
        "MISS",
        "a 200 from the handler is a miss"
    );
    assert_eq!(text(&changed), "version 2 from run 3");
    assert_eq!(s.get(&path, &[]).await.x_cache(), "HIT");
    assert_eq!(s.app.calls.get("versioned"), 3);
}

backend_matrix!(
    expired_entries_are_revalidated_through_the_handler,
    a_304_is_merged_only_under_the_storage_rules,
    a_revalidation_carries_the_varied_headers_of_its_entry,
    bodies_of_unknown_length_stream_and_are_stored,
    targeted_cache_control_governs_this_cache,
    rfc_5861_directives_set_the_stale_window,
    the_host_is_part_of_every_key,
    forwarded_hosts_count_only_when_trusted,
    negative_caching_is_opt_in_and_short,
    expires_counts,
    age_and_s_maxage_count_and_date_is_kept,
    if_modified_since_on_hits,
    byte_ranges_on_hits,
);

/// RFC 9111 §3 and §4.3.4: a `304` refreshes the stored entry only if it
/// could itself be stored. One saying `no-store` or `private`, setting a
/// cookie or varying on a header the key leaves out confirms the stored
/// body for this request, but the entry stays expired (the next request
/// revalidates again). The client gets the `304`'s `Set-Cookie`, and the
/// entry never holds it.
async fn a_304_is_merged_only_under_the_storage_rules(backend: Backend) {
    let s = setup(backend, "rfc_merge", |b| b).await;
    let s = &s;
    futures_util::future::join_all(MERGE_MODES.map(|mode| async move {
        let path = format!("/merged/{mode}");
        let body = format!("body {mode}");
        assert_eq!(s.get(&path, &[]).await.x_cache(), "MISS", "{mode}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let runs = s.app.calls.get(mode);
        let confirmed = s.get(&path, &[]).await;
        assert_eq!(confirmed.status, StatusCode::OK, "{mode}");
        assert_eq!(text(&confirmed), body, "{mode}: the stored body");
        let status = header(&confirmed, "cache-status");
        assert!(status.contains("fwd-status=304"), "{mode}: {status}");
        let cookie = header(&confirmed, "set-cookie");
        assert_eq!(
            cookie == "session=from-304",
            mode == "cookie",
            "{mode}: the 304's cookie reaches the client: {cookie:?}"
        );
        let again = s.get(&path, &[]).await;
        assert_eq!(text(&again), body, "{mode}");
        if mode == "plain" {
            assert!(status.contains("stored"), "{mode}: {status}");
            assert_eq!(again.x_cache(), "HIT", "refreshed by the 304");
            assert_eq!(s.app.calls.get(mode), runs + 1);
        } else {
            assert!(!status.contains("stored"), "{mode}: {status}");
            assert_eq!(
                s.app.calls.get(mode),
                runs + 2,
                "{mode}: not refreshed, so revalidated again"
            );
            assert_eq!(
                header(&again, "set-cookie"),
                cookie,
                "{mode}: the entry holds no cookie of the 304's"
            );
        }
    }))
    .await;
}

/// RFC 9111 §4.3.1: the conditional request the cache makes for an entry
/// carries the values of the headers the entry varies on, so the handler
/// validates the variant it stored: each language's expired entry is
/// confirmed by a `304` for that language, and serves its own body.
async fn a_revalidation_carries_the_varied_headers_of_its_entry(backend: Backend) {
    let s = setup(backend, "rfc_vary_reval", |b| b).await;
    for lang in ["fr", "de"] {
        let reply = s.get("/greeting", &[("accept-language", lang)]).await;
        assert_eq!(reply.x_cache(), "MISS");
        assert_eq!(text(&reply), format!("hello in {lang}"));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for lang in ["de", "fr"] {
        let reply = s.get("/greeting", &[("accept-language", lang)]).await;
        assert_eq!(text(&reply), format!("hello in {lang}"), "its own variant");
        let status = header(&reply, "cache-status");
        assert!(
            status.contains("fwd-status=304"),
            "{lang}: the handler confirmed the variant it was asked about: {status}"
        );
        assert_eq!(header(&reply, "etag"), format!("\"{lang}\""));
    }
    assert_eq!(
        s.app.calls.get("greeting"),
        4,
        "two fills, two revalidations"
    );
}

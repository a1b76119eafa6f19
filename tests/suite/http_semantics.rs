//! HTTP caching semantics end to end: a real server on a loopback port, a
//! real HTTP client, and each backend behind the cache (`backend_matrix!`:
//! Redis, Redis Cluster, Redis with L1, embedded); the two tests that read
//! the stored keys back use standalone Redis.

use crate::support;

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use cache_runtime::cached_route;
use http::Method;
use std::time::Duration;
use support::{Backend, Calls, Fixture, Reply, TestApp};

#[cached_route(ttl = 3600)]
async fn item(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<(u64, usize)> {
    Json((id, calls.record("item")))
}

/// The same body on every run, so a re-stored entry gets the same ETag.
#[cached_route(ttl = 1)]
async fn stable(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<u64> {
    calls.record("stable");
    Json(id)
}

#[cached_route(ttl = 3600)]
async fn missing(State(calls): State<Calls>) -> StatusCode {
    calls.record("missing");
    StatusCode::NOT_FOUND
}

#[cached_route(ttl = 3600)]
async fn no_store(State(calls): State<Calls>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(calls.record("no_store")),
    )
}

/// Asks for one second of freshness against a route TTL of an hour.
#[cached_route(ttl = 3600)]
async fn short_max_age(State(calls): State<Calls>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=1")],
        Json(calls.record("short_max_age")),
    )
}

#[cached_route(ttl = 3600, honor_client = true)]
async fn refreshable(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("refreshable"))
}

fn who(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get(header::COOKIE))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous")
        .to_owned()
}

/// Answers with who is asking but says nothing about it: the defaults must
/// keep one user's answer from another (its unkeyed-input warning silenced:
/// what is tested is the runtime's protection).
#[cached_route(ttl = 3600, allow_unkeyed = true)]
async fn whoami(State(calls): State<Calls>, headers: HeaderMap) -> Json<(String, usize)> {
    Json((who(&headers), calls.record("whoami")))
}

#[cached_route(ttl = 3600, private = true)]
async fn me(State(calls): State<Calls>, headers: HeaderMap) -> Json<(String, usize)> {
    Json((who(&headers), calls.record("me")))
}

#[cached_route(ttl = 3600, shared = true)]
async fn public_page(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("public_page"))
}

#[cached_route(ttl = 3600, vary = ["accept-language"])]
async fn greeting(State(calls): State<Calls>, headers: HeaderMap) -> Json<(String, usize)> {
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("en")
        .to_owned();
    let text = if lang.starts_with("fr") {
        "bonjour"
    } else {
        "hello"
    };
    Json((text.to_owned(), calls.record("greeting")))
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/item/{id}", get(item).post(item))
        .route("/stable/{id}", get(stable))
        .route("/missing", get(missing))
        .route("/no-store", get(no_store))
        .route("/short-max-age", get(short_max_age))
        .route("/refreshable", get(refreshable))
        .route("/whoami", get(whoami))
        .route("/me", get(me))
        .route("/public", get(public_page))
        .route("/greeting", get(greeting))
        .with_state(calls)
}

backend_matrix!(
    etag_and_if_none_match_answer_304,
    a_freshly_stored_miss_answers_304_to_a_matching_tag,
    head_is_served_from_the_get_entry_without_a_body,
    age_grows_and_max_age_shrinks,
    cache_status_names_each_outcome,
    client_no_cache_is_ignored_by_default,
    client_directives_are_honoured_where_configured,
    users_never_see_each_others_responses_on_an_unmarked_route,
    shared_routes_serve_everyone_from_one_entry,
    vary_splits_entries_by_accept_language,
);

struct Setup {
    app: TestApp,
    fixture: Fixture,
    prefix: String,
}

async fn setup(
    backend: Backend,
    test: &str,
    configure: impl FnOnce(cache_runtime::RouteCacheBuilder) -> cache_runtime::RouteCacheBuilder,
) -> Setup {
    let fixture = Fixture::with(backend, test, configure).await;
    let prefix = fixture.cache.config().prefix.to_owned();
    let calls = Calls::default();
    let app = TestApp::serve(router(calls.clone()).layer(fixture.cache.layer()), calls).await;
    Setup {
        app,
        fixture,
        prefix,
    }
}

impl Setup {
    /// The standalone Redis behind the cache.
    fn redis_url(&self) -> String {
        self.fixture
            .redis
            .as_ref()
            .expect("a Redis-backed setup")
            .url()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.app
            .request(Method::GET, path, headers, Bytes::new())
            .await
    }
}

fn status_of(reply: &Reply) -> &str {
    reply
        .headers
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn max_age(reply: &Reply) -> u64 {
    let cc = header(reply, "cache-control");
    cc.split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cc:?}"))
}

async fn etag_and_if_none_match_answer_304(backend: Backend) {
    let s = setup(backend, "etag", |b| b).await;
    let first = s.get("/item/1", &[]).await;
    assert_eq!(first.status, 200);
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    assert_eq!(status_of(&first), "route-cache; fwd=uri-miss; stored");

    for field in [etag.as_str(), "\"other\", ETAG", "*", "W/ETAG"] {
        let field = field.replace("ETAG", &etag);
        let reply = s.get("/item/1", &[("if-none-match", &field)]).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {field}"
        );
        assert!(reply.body.is_empty());
        assert_eq!(header(&reply, "etag"), etag);
        assert!(header(&reply, "cache-control").starts_with("public, max-age="));
        assert!(status_of(&reply).starts_with("route-cache; hit; ttl="));
        assert!(reply.headers.get("content-type").is_none());
    }
    let other = s
        .get("/item/1", &[("if-none-match", "\"something-else\"")])
        .await;
    assert_eq!(
        (other.status.as_u16(), other.body.clone()),
        (200, first.body.clone())
    );
    assert_eq!(s.app.calls.get("item"), 1);
}

async fn a_freshly_stored_miss_answers_304_to_a_matching_tag(backend: Backend) {
    let s = setup(backend, "etag_miss", |b| b).await;
    let first = s.get("/stable/7", &[]).await;
    let etag = header(&first, "etag").to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await; // ttl = 1 expired
    let again = s.get("/stable/7", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.x_cache(), "MISS");
    assert_eq!(status_of(&again), "route-cache; fwd=uri-miss; stored");
    assert_eq!(
        s.app.calls.get("stable"),
        2,
        "the handler ran again for the miss"
    );
}

async fn head_is_served_from_the_get_entry_without_a_body(backend: Backend) {
    let s = setup(backend, "head", |b| b).await;
    let get = s.get("/item/2", &[]).await;
    let head = s
        .app
        .request(Method::HEAD, "/item/2", &[], Bytes::new())
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.x_cache(), "HIT");
    assert_eq!(header(&head, "etag"), header(&get, "etag"));
    assert_eq!(header(&head, "content-length"), get.body.len().to_string());
    assert_eq!(s.app.calls.get("item"), 1);
}

async fn age_grows_and_max_age_shrinks(backend: Backend) {
    let s = setup(backend, "age", |b| b).await;
    let first = s.get("/item/3", &[]).await;
    assert_eq!(max_age(&first), 3600);
    assert!(first.headers.get("age").is_none());
    // A hit at once, then one seconds later: the header block the
    // in-process tiers remember for a hit must not outlive its second.
    let early = s.get("/item/3", &[]).await;
    assert_eq!(header(&early, "age"), "0");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let hit = s.get("/item/3", &[]).await;
    let age: u64 = header(&hit, "age").parse().unwrap();
    assert!(age >= 2, "age {age}");
    assert_eq!(max_age(&hit), 3600 - age);
    assert_eq!(
        status_of(&hit),
        format!("route-cache; hit; ttl={}", 3600 - age)
    );
}

async fn cache_status_names_each_outcome(backend: Backend) {
    let s = setup(backend, "status", |b| b.status_name("edge")).await;
    assert_eq!(
        status_of(&s.get("/item/4", &[]).await),
        "edge; fwd=uri-miss; stored"
    );
    assert!(status_of(&s.get("/item/4", &[]).await).starts_with("edge; hit; ttl="));
    assert_eq!(
        status_of(&s.get("/missing", &[]).await),
        "edge; fwd=uri-miss; detail=status"
    );
    assert_eq!(
        status_of(&s.get("/no-store", &[]).await),
        "edge; fwd=uri-miss; detail=cache-control"
    );
    let post = s
        .app
        .request(Method::POST, "/item/4", &[], Bytes::new())
        .await;
    assert_eq!(status_of(&post), "edge; fwd=bypass; detail=method");
    let authed = s.get("/item/4", &[("authorization", "Bearer x")]).await;
    assert_eq!(status_of(&authed), "edge; fwd=bypass; detail=authorization");
    let cookie = s.get("/item/4", &[("cookie", "session=1")]).await;
    assert_eq!(status_of(&cookie), "edge; fwd=bypass; detail=cookie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_no_store_is_never_stored_and_short_max_age_caps_the_ttl() {
    let s = setup(Backend::Redis, "handler_cc", |b| b).await;
    for run in 1..=2 {
        let reply = s.get("/no-store", &[]).await;
        assert_eq!(reply.json(), run);
        assert_eq!(header(&reply, "cache-control"), "no-store");
        assert!(reply.headers.get("etag").is_none());
    }
    let first = s.get("/short-max-age", &[]).await;
    assert_eq!(
        header(&first, "cache-control"),
        "public, max-age=1",
        "the handler's own value is kept"
    );
    assert_eq!(s.get("/short-max-age", &[]).await.x_cache(), "HIT");
    let mut conn = redis::Client::open(s.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let route = support::key_segment(&format!("{}::short_max_age", module_path!()));
    let keys = support::redis::scan_keys(&mut conn, &format!("{}:{route}:*", s.prefix)).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (0..=1).contains(&ttl),
        "entry ttl {ttl} capped by the handler's max-age=1"
    );
}

async fn client_no_cache_is_ignored_by_default(backend: Backend) {
    let s = setup(backend, "client_default", |b| b).await;
    s.get("/item/5", &[]).await;
    for directive in [
        ("cache-control", "no-cache"),
        ("cache-control", "max-age=0"),
        ("pragma", "no-cache"),
        ("cache-control", "no-store"),
    ] {
        let reply = s.get("/item/5", &[directive]).await;
        assert_eq!(reply.x_cache(), "HIT", "{directive:?}");
    }
    assert_eq!(s.app.calls.get("item"), 1);
}

async fn client_directives_are_honoured_where_configured(backend: Backend) {
    let s = setup(backend, "client_honour", |b| b).await;
    assert_eq!(s.get("/refreshable", &[]).await.json(), 1);
    // no-cache: the handler answers and the entry is refreshed.
    let refreshed = s
        .get("/refreshable", &[("cache-control", "no-cache")])
        .await;
    assert_eq!(
        (refreshed.x_cache(), refreshed.json()),
        ("MISS", serde_json::json!(2))
    );
    assert_eq!(status_of(&refreshed), "route-cache; fwd=request; stored");
    assert_eq!(s.get("/refreshable", &[]).await.json(), 2);
    // no-store: the handler answers and nothing is stored.
    let unstored = s
        .get("/refreshable", &[("cache-control", "no-store")])
        .await;
    assert_eq!(
        (unstored.json(), status_of(&unstored)),
        (serde_json::json!(3), "route-cache; fwd=request")
    );
    let hit = s.get("/refreshable", &[]).await;
    assert_eq!((hit.x_cache(), hit.json()), ("HIT", serde_json::json!(2)));
    // HTTP/1.0's `Pragma: no-cache`, without `Cache-Control`, is `no-cache`
    // (RFC 9111 §5.4), on a request that carries other fields too.
    let pragma = s
        .get(
            "/refreshable",
            &[
                ("accept", "*/*"),
                ("pragma", "no-cache"),
                ("user-agent", "t"),
            ],
        )
        .await;
    assert_eq!(
        (pragma.x_cache(), pragma.json()),
        ("MISS", serde_json::json!(4))
    );
    assert_eq!(s.get("/refreshable", &[]).await.json(), 4);

    // Cache-wide opt-in covers routes that do not decide themselves.
    let s = setup(backend, "client_honour_all", |b| {
        b.honor_client_cache_control(true)
    })
    .await;
    s.get("/item/6", &[]).await;
    let reply = s.get("/item/6", &[("cache-control", "max-age=0")]).await;
    assert_eq!(reply.x_cache(), "MISS");
    assert_eq!(s.app.calls.get("item"), 2);
}

async fn users_never_see_each_others_responses_on_an_unmarked_route(backend: Backend) {
    let s = setup(backend, "users", |b| b).await;
    let alice = [("authorization", "Bearer alice-secret")];
    let bob = [("authorization", "Bearer bob-secret")];
    for _ in 0..2 {
        let a = s.get("/whoami", &alice).await;
        assert_eq!(a.json()[0], "Bearer alice-secret");
        let b = s.get("/whoami", &bob).await;
        assert_eq!(b.json()[0], "Bearer bob-secret");
    }
    // Anonymous requests share an entry, which no credentialed one sees.
    let anon = s.get("/whoami", &[]).await;
    assert_eq!(
        (anon.json()[0].as_str(), anon.x_cache()),
        (Some("anonymous"), "MISS")
    );
    assert_eq!(s.get("/whoami", &[]).await.x_cache(), "HIT");
    let a = s.get("/whoami", &alice).await;
    assert_eq!(a.json()[0], "Bearer alice-secret");
    let cookie = s.get("/whoami", &[("cookie", "session=carol")]).await;
    assert_eq!(cookie.json()[0], "session=carol");
    assert_eq!(
        s.app.calls.get("whoami"),
        7,
        "every credentialed request ran the handler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_routes_give_each_user_an_entry_keyed_by_a_hash() {
    let s = setup(Backend::Redis, "private", |b| b).await;
    let alice = [("authorization", "Bearer alice-secret")];
    let bob = [("authorization", "Bearer bob-secret")];
    let a1 = s.get("/me", &alice).await;
    assert_eq!(
        (a1.x_cache(), a1.json()[0].as_str()),
        ("MISS", Some("Bearer alice-secret"))
    );
    assert_eq!(header(&a1, "cache-control"), "private, max-age=3600");
    let b1 = s.get("/me", &bob).await;
    assert_eq!(
        (b1.x_cache(), b1.json()[0].as_str()),
        ("MISS", Some("Bearer bob-secret"))
    );
    let a2 = s.get("/me", &alice).await;
    assert_eq!((a2.x_cache(), a2.body.clone()), ("HIT", a1.body.clone()));
    assert!(header(&a2, "cache-control").starts_with("private, max-age="));
    let b2 = s.get("/me", &bob).await;
    assert_eq!((b2.x_cache(), b2.body.clone()), ("HIT", b1.body.clone()));
    assert_eq!(s.app.calls.get("me"), 2);

    let mut conn = redis::Client::open(s.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // The entries, not their path index nor a lease still being released.
    let keys: Vec<String> = support::redis::scan_keys(&mut conn, &format!("{}:*", s.prefix))
        .await
        .into_iter()
        .filter(|k| !k.contains(":#i{") && !k.contains("#lease{"))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(
            !key.contains("secret") && !key.contains("Bearer"),
            "credential in key {key}"
        );
        assert!(key.contains("#authorization=hmac."), "{key}");
    }
}

async fn shared_routes_serve_everyone_from_one_entry(backend: Backend) {
    let s = setup(backend, "shared", |b| b).await;
    assert_eq!(
        s.get("/public", &[("authorization", "Bearer a")])
            .await
            .x_cache(),
        "MISS"
    );
    assert_eq!(
        s.get("/public", &[("cookie", "x=1")]).await.x_cache(),
        "HIT"
    );
    assert_eq!(s.get("/public", &[]).await.x_cache(), "HIT");
    assert_eq!(s.app.calls.get("public_page"), 1);
}

async fn vary_splits_entries_by_accept_language(backend: Backend) {
    let s = setup(backend, "vary", |b| b).await;
    let en = s.get("/greeting", &[("accept-language", "en-GB")]).await;
    let fr = s.get("/greeting", &[("accept-language", "fr-FR")]).await;
    assert_eq!(
        (en.json()[0].as_str(), fr.json()[0].as_str()),
        (Some("hello"), Some("bonjour"))
    );
    assert_eq!(header(&en, "vary"), "accept-language");
    let fr_hit = s.get("/greeting", &[("accept-language", "fr-FR")]).await;
    assert_eq!(
        (fr_hit.x_cache(), fr_hit.json()[0].as_str()),
        ("HIT", Some("bonjour"))
    );
    let en_hit = s.get("/greeting", &[("accept-language", "en-GB")]).await;
    assert_eq!(
        (en_hit.x_cache(), en_hit.json()[0].as_str()),
        ("HIT", Some("hello"))
    );
    assert_eq!(s.app.calls.get("greeting"), 2);
}

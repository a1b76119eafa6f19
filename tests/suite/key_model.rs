//! The key model: the key covers exactly what the handler can read, no
//! more and no less, against every backend over real HTTP.
//!
//! - Instances reached under their own addresses (no shared `Host`) share
//!   entries for handlers that cannot see the host; a handler that can is
//!   keyed on it, canonically.
//! - A handler that reads no query is not keyed on it.
//! - Credentials never reach another user through any key source, and
//!   downstream caches are told so (`private`, `Vary`).
//! - Random hosts cannot grow an index set without bound.

use crate::support;

use axum::{
    extract::{Path, State},
    http::{request::Parts, HeaderMap},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::{sync::Arc, time::Duration};
use support::{Backend, Calls, Fixture, Reply, TestApp};

/// Reads only the path (and the state): keyed on neither the host nor the
/// query.
#[cached_route(ttl = 3600)]
async fn item(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<(u64, usize)> {
    Json((id, calls.record("item")))
}

/// One answer per user, who is read from `Authorization`.
#[cached_route(ttl = 3600, private = true)]
async fn me(State(calls): State<Calls>, headers: HeaderMap) -> String {
    format!("{} {}", user(&headers), calls.record("me"))
}

/// Slow, so that concurrent cold requests overlap.
#[cached_route(ttl = 3600)]
async fn slow(State(calls): State<Calls>) -> Json<usize> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    Json(calls.record("slow"))
}

/// Handlers that read the host themselves, declaring nothing: the macro
/// keys them on the host (and warns about the headers, on purpose here).
mod reflect {
    #![allow(deprecated)]

    use super::*;

    /// Writes the host it was asked for into its body, as axum-extra's
    /// `Host` finds it: the first `X-Forwarded-Host` value, else `Host`.
    #[cached_route(ttl = 3600)]
    pub(super) async fn host(State(calls): State<Calls>, headers: HeaderMap) -> String {
        calls.record("host");
        let forwarded = headers
            .get("x-forwarded-host")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next());
        let host = forwarded
            .or_else(|| headers.get("host").and_then(|v| v.to_str().ok()))
            .unwrap_or("none");
        format!("host {}", host.trim())
    }
}

/// A route with its own key, on a handler that reads who asks.
#[cached_route(ttl = 3600, key = format!("page:{n}"))]
async fn page(State(calls): State<Calls>, Path(n): Path<u32>, headers: HeaderMap) -> String {
    format!("page {n} for {} ({})", user(&headers), calls.record("page"))
}

#[cached_route(ttl = 3600, key = format!("page:{n}"), private = true)]
async fn private_page(
    State(calls): State<Calls>,
    Path(n): Path<u32>,
    headers: HeaderMap,
) -> String {
    format!("page {n} for {} ({})", user(&headers), calls.record("page"))
}

#[cached_route(ttl = 3600, key = format!("page:{n}"), vary = ["authorization"])]
async fn vary_page(State(calls): State<Calls>, Path(n): Path<u32>, headers: HeaderMap) -> String {
    format!("page {n} for {} ({})", user(&headers), calls.record("page"))
}

#[cached_route(ttl = 3600, key = format!("page:{n}"), shared = true)]
async fn shared_page(State(calls): State<Calls>, Path(n): Path<u32>) -> String {
    format!("page {n} for everyone ({})", calls.record("page"))
}

fn tenant_key(parts: &Parts) -> String {
    parts
        .headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

/// A route keyed by a function that reads a header, declared in `vary`.
#[cached_route(ttl = 3600, key = tenant_key, vary = ["x-tenant"])]
async fn by_tenant(State(calls): State<Calls>, headers: HeaderMap) -> String {
    let tenant = headers.get("x-tenant").and_then(|v| v.to_str().ok());
    format!(
        "tenant {} ({})",
        tenant.unwrap_or("none"),
        calls.record("tenant")
    )
}

fn user(headers: &HeaderMap) -> &str {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous")
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/items/{id}", get(item))
        .route("/me", get(me))
        .route("/slow", get(slow))
        .route("/host", get(reflect::host))
        .route("/page/{n}", get(page))
        .route("/private-page/{n}", get(private_page))
        .route("/vary-page/{n}", get(vary_page))
        .route("/shared-page/{n}", get(shared_page))
        .route("/tenant", get(by_tenant))
        .with_state(calls)
}

async fn serve(cache: &RouteCache, calls: &Calls) -> TestApp {
    TestApp::serve(router(calls.clone()).layer(cache.layer()), calls.clone()).await
}

async fn setup(backend: Backend, test: &str) -> (Fixture, TestApp) {
    let fixture = Fixture::new(backend, test).await;
    let app = serve(&fixture.cache, &Calls::default()).await;
    (fixture, app)
}

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    app.request(http::Method::GET, path, headers, bytes::Bytes::new())
        .await
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// A request the cache did not answer: no `x-cache`, and `Cache-Status`
/// names the bypass and its reason.
fn assert_bypassed(reply: &Reply, reason: &str) {
    assert_eq!(reply.x_cache(), "", "a bypass carries no x-cache");
    let status = reply.header("cache-status");
    assert!(
        status.contains("fwd=bypass") && status.contains(&format!("detail={reason}")),
        "{status}"
    );
}

backend_matrix!(
    two_instances_on_two_ports_share_entries,
    a_host_reflecting_handler_is_keyed_on_its_canonical_host,
    junk_query_parameters_neither_bust_nor_survive_invalidation,
    key_routes_never_serve_one_users_answer_to_another,
    responses_tell_downstream_caches_who_may_keep_them,
    random_hosts_cannot_grow_an_index_without_bound,
    credential_headers_extend_the_bypass,
    the_forwarded_host_is_the_nearest_trusted_proxys,
);

/// Two instances against one backend, each called directly under its own
/// `127.0.0.1:<port>`: no `Host` in common.
async fn two_instances_on_two_ports_share_entries(backend: Backend) {
    let f = Fixture::new(backend, "key_two_ports").await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let a = Arc::new(serve(&f.cache, &calls).await);
    let b = Arc::new(serve(&second, &calls).await);
    assert_ne!(a.addr.port(), b.addr.port());

    assert_eq!(a.get_direct("/items/1", &[]).await.x_cache(), "MISS");
    let on_b = b.get_direct("/items/1", &[]).await;
    assert_eq!(on_b.x_cache(), "HIT", "B serves A's entry");
    assert_eq!(on_b.json(), serde_json::json!([1, 1]));
    assert_eq!(calls.get("item"), 1, "B's handler did not run");

    // A private per-user route: the same user shares, never another.
    let alice = [("authorization", "Bearer alice")];
    let bob = [("authorization", "Bearer bob")];
    let filled = a.get_direct("/me", &alice).await;
    assert_eq!(filled.x_cache(), "MISS");
    let again = b.get_direct("/me", &alice).await;
    assert_eq!((again.x_cache(), again.body.clone()), ("HIT", filled.body));
    let other = b.get_direct("/me", &bob).await;
    assert_eq!(other.x_cache(), "MISS");
    assert!(text(&other).starts_with("Bearer bob "), "{}", text(&other));
    assert_eq!(calls.get("me"), 2);

    // 200 concurrent cold requests split over both: one computation.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(
            async move { app.get_direct("/slow", &[]).await },
        ));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    let why = |cache: &RouteCache| {
        let stats = cache.stats();
        let slow = stats.route::<cache_runtime::route!(slow)>();
        format!(
            "backend errors {}, slow route {:?}",
            stats.backend_errors, slow
        )
    };
    assert_eq!(
        calls.get("slow"),
        1,
        "one computation across both instances; A: {}; B: {}",
        why(&f.cache),
        why(&second)
    );
    for reply in replies {
        assert_eq!(
            (reply.status.as_u16(), reply.json()),
            (200, serde_json::json!(1))
        );
    }
}

/// A handler that can read the host is keyed on it, lower-cased and
/// without the default port: one host's body never reaches another.
async fn a_host_reflecting_handler_is_keyed_on_its_canonical_host(backend: Backend) {
    let (_f, app) = setup(backend, "key_host").await;
    let shop = fetch(&app, "/host", &[("host", "shop.example")]).await;
    assert_eq!(
        (shop.x_cache(), text(&shop).as_str()),
        ("MISS", "host shop.example")
    );
    let evil = fetch(&app, "/host", &[("host", "evil.example")]).await;
    assert_eq!(
        (evil.x_cache(), text(&evil).as_str()),
        ("MISS", "host evil.example")
    );
    for same in ["SHOP.example", "shop.example:80"] {
        let reply = fetch(&app, "/host", &[("host", same)]).await;
        assert_eq!(
            (reply.x_cache(), text(&reply).as_str()),
            ("HIT", "host shop.example"),
            "{same} is shop.example"
        );
    }
    let port = fetch(&app, "/host", &[("host", "shop.example:8080")]).await;
    assert_eq!(port.x_cache(), "MISS", "another port is another origin");
    // Called directly, each port is its own host here.
    let direct = app.get_direct("/host", &[]).await;
    assert_eq!(text(&direct), format!("host {}", app.addr));
    assert_eq!(app.calls.get("host"), 4);
}

/// `Path`-only handler: 1,000 junk queries run it once, and invalidating
/// the path reaches every variant.
async fn junk_query_parameters_neither_bust_nor_survive_invalidation(backend: Backend) {
    let (f, app) = setup(backend, "key_junk").await;
    let app = Arc::new(app);
    for chunk in 0..20 {
        let mut tasks = Vec::new();
        for i in 0..50 {
            let app = Arc::clone(&app);
            let n = chunk * 50 + i;
            tasks.push(tokio::spawn(async move {
                app.get(&format!("/items/42?_={n}&utm_source=x{n}")).await
            }));
        }
        for task in tasks {
            let reply = task.await.expect("request task");
            assert_eq!(reply.json(), serde_json::json!([42, 1]));
        }
    }
    assert_eq!(
        app.calls.get("item"),
        1,
        "1,000 junk queries, one computation"
    );
    let removed = f.cache.invalidate("/items/42").await.expect("invalidate");
    assert_eq!(removed, 1, "one entry for every variant");
    let after = app.get("/items/42?utm_source=newsletter").await;
    assert_eq!(
        after.x_cache(),
        "MISS",
        "no variant survives the invalidation"
    );
    assert_eq!(after.json(), serde_json::json!([42, 2]));
    let other = app.get("/items/42?_=1").await;
    assert_eq!(other.json(), serde_json::json!([42, 2]), "one entry again");
}

/// `key` routes: a request with credentials bypasses unless the route
/// says how to key them (`private`, `vary`) or that they do not matter
/// (`shared`).
async fn key_routes_never_serve_one_users_answer_to_another(backend: Backend) {
    let (_f, app) = setup(backend, "key_creds").await;
    let as_user = |path: &'static str, who: Option<&'static str>| {
        let headers: Vec<(&str, &str)> = who.map(|w| ("authorization", w)).into_iter().collect();
        let app = &app;
        async move {
            app.request(http::Method::GET, path, &headers, bytes::Bytes::new())
                .await
        }
    };
    // Default: anonymous clients share; users bypass.
    assert_eq!(as_user("/page/1", None).await.x_cache(), "MISS");
    assert_eq!(as_user("/page/1", None).await.x_cache(), "HIT");
    for who in ["alice", "bob"] {
        let reply = as_user("/page/1", Some(who)).await;
        assert_bypassed(&reply, "authorization");
        assert!(
            text(&reply).contains(&format!("for {who}")),
            "{}",
            text(&reply)
        );
    }
    let anonymous = as_user("/page/1", None).await;
    assert_eq!(anonymous.x_cache(), "HIT");
    assert!(
        text(&anonymous).contains("for anonymous"),
        "{}",
        text(&anonymous)
    );

    // `private` and `vary`: an entry per user.
    for path in ["/private-page/1", "/vary-page/1"] {
        let alice = as_user(path, Some("alice")).await;
        assert_eq!(alice.x_cache(), "MISS", "{path}");
        let again = as_user(path, Some("alice")).await;
        assert_eq!(
            (again.x_cache(), again.body.clone()),
            ("HIT", alice.body),
            "{path}"
        );
        let bob = as_user(path, Some("bob")).await;
        assert_eq!(bob.x_cache(), "MISS", "{path}");
        assert!(text(&bob).contains("for bob"), "{path}: {}", text(&bob));
        let anonymous = as_user(path, None).await;
        assert_eq!(anonymous.x_cache(), "MISS", "{path}");
        assert!(text(&anonymous).contains("for anonymous"), "{path}");
    }

    // `shared`: one entry for everyone.
    assert_eq!(as_user("/shared-page/1", None).await.x_cache(), "MISS");
    let alice = as_user("/shared-page/1", Some("alice")).await;
    assert_eq!(alice.x_cache(), "HIT");
}

/// A response whose key carries a credential goes out `private`; one
/// keyed on a request header names it in `Vary`; only a response that is
/// the same for everyone says `public`.
async fn responses_tell_downstream_caches_who_may_keep_them(backend: Backend) {
    let (_f, app) = setup(backend, "key_downstream").await;
    for (path, headers) in [
        ("/me", &[("authorization", "Bearer alice")][..]),
        ("/vary-page/2", &[("authorization", "Bearer alice")][..]),
        ("/private-page/2", &[("authorization", "Bearer alice")][..]),
    ] {
        for expected in ["MISS", "HIT"] {
            let reply = fetch(&app, path, headers).await;
            assert_eq!(reply.x_cache(), expected, "{path}");
            let cc = reply.header("cache-control");
            assert!(cc.starts_with("private"), "{path} {expected}: {cc}");
            assert!(!cc.contains("public"), "{path} {expected}: {cc}");
        }
    }
    for expected in ["MISS", "HIT"] {
        let reply = fetch(&app, "/tenant", &[("x-tenant", "acme")]).await;
        assert_eq!(reply.x_cache(), expected);
        assert_eq!(text(&reply), "tenant acme (1)");
        let vary = reply.header("vary").to_ascii_lowercase();
        assert!(vary.contains("x-tenant"), "{expected}: Vary {vary:?}");
        assert!(reply.header("cache-control").starts_with("public"));
    }
    let other = fetch(&app, "/tenant", &[("x-tenant", "globex")]).await;
    assert_eq!(
        (other.x_cache(), text(&other).as_str()),
        ("MISS", "tenant globex (2)")
    );
    for expected in ["MISS", "HIT"] {
        let reply = fetch(&app, "/items/5", &[]).await;
        assert_eq!(reply.x_cache(), expected);
        assert!(reply
            .header("cache-control")
            .starts_with("public, max-age="));
    }
}

/// 2,000 requests with random `Host` values to a host-keyed route whose
/// path index is capped at 200 (`max_path_variants`): the set stays under
/// its cap, and so does what it weighs.
async fn random_hosts_cannot_grow_an_index_without_bound(backend: Backend) {
    const CAP: usize = 200;
    const REQUESTS: usize = 2_000;
    let f = Fixture::with(backend, "key_random_hosts", |b| b.max_path_variants(CAP)).await;
    let app = Arc::new(serve(&f.cache, &Calls::default()).await);
    let index = format!("{}:#p:/host", f.cache.config().prefix);
    app.request(
        http::Method::GET,
        "/host",
        &[("host", "first.example")],
        bytes::Bytes::new(),
    )
    .await;
    let (before, _) = f.index_weight(backend, &index).await;
    let mut sent = 0;
    while sent < REQUESTS {
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let app = Arc::clone(&app);
            let host = format!("h{:016x}.example", rand_u64());
            tasks.push(tokio::spawn(async move {
                app.request(
                    http::Method::GET,
                    "/host",
                    &[("host", &host)],
                    bytes::Bytes::new(),
                )
                .await
                .status
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("request task"), 200);
        }
        sent += 50;
    }
    let (after, members) = f.index_weight(backend, &index).await;
    println!(
        "{backend:?}: index set bytes before {before}, after {REQUESTS} random hosts {after} \
         ({members} members, cap {CAP})"
    );
    assert!(members <= CAP, "{members} members over the cap {CAP}");
    // Each member is a key of about 60 bytes plus its score and overhead
    // (a skiplist node's height is random, so the overhead varies from
    // run to run: 256 bytes leaves room), on top of what the set weighed
    // with one. Unbounded, the 2,000 hosts would weigh several times
    // this.
    let bound = before + u64::try_from(CAP * 256).unwrap();
    assert!(
        after <= bound,
        "index set weighs {after} bytes, over {bound}"
    );
    // Fills past the cap were served, not stored.
    let stats = f.cache.stats();
    let route = stats
        .routes
        .iter()
        .find(|r| r.route.ends_with("reflect::host"))
        .expect("the route's stats");
    assert!(
        route.refused >= u64::try_from(REQUESTS - CAP).unwrap(),
        "{route:?}"
    );
    // The route keeps answering, and a host stored before still hits.
    let first = app
        .request(
            http::Method::GET,
            "/host",
            &[("host", "first.example")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(first.x_cache(), "HIT");
}

/// `credential_headers(["x-api-key"])`: requests carrying it bypass a
/// default route; without the setting they share its entry.
async fn credential_headers_extend_the_bypass(backend: Backend) {
    let f = Fixture::with(backend, "key_api_key", |b| {
        b.credential_headers(["x-api-key"])
    })
    .await;
    let app = serve(&f.cache, &Calls::default()).await;
    let with_key = [("x-api-key", "k-123")];
    assert_eq!(fetch(&app, "/items/3", &[]).await.x_cache(), "MISS");
    for _ in 0..2 {
        assert_bypassed(&fetch(&app, "/items/3", &with_key).await, "credential");
    }
    assert_eq!(
        app.calls.get("item"),
        3,
        "every keyed request ran the handler"
    );
    assert_eq!(fetch(&app, "/items/3", &[]).await.x_cache(), "HIT");

    let (_plain, other) = setup(backend, "key_api_key_off").await;
    let reply = other
        .request(
            http::Method::GET,
            "/items/3",
            &with_key,
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(
        reply.x_cache(),
        "MISS",
        "not a credential without the setting"
    );
}

/// Under `trust_forwarded_host`, the host keyed is the one the nearest
/// trusted proxy wrote; a client's own value in front of it bypasses, so
/// it can never be stored under the real host's key.
async fn the_forwarded_host_is_the_nearest_trusted_proxys(backend: Backend) {
    let f = Fixture::with(backend, "key_forwarded", |b| b.trust_forwarded_host(true)).await;
    let app = serve(&f.cache, &Calls::default()).await;
    let shop = fetch(&app, "/host", &[("x-forwarded-host", "shop.example")]).await;
    assert_eq!(
        (shop.x_cache(), text(&shop).as_str()),
        ("MISS", "host shop.example")
    );
    let forged = fetch(
        &app,
        "/host",
        &[("x-forwarded-host", "evil.example, shop.example")],
    )
    .await;
    assert_bypassed(&forged, "host");
    let again = fetch(&app, "/host", &[("x-forwarded-host", "shop.example")]).await;
    assert_eq!(
        (again.x_cache(), text(&again).as_str()),
        ("HIT", "host shop.example")
    );

    // Two proxies you run: the outer one's value counts.
    let g = Fixture::with(backend, "key_forwarded_two", |b| {
        b.trust_forwarded_host(true).trusted_proxies(2)
    })
    .await;
    let app = serve(&g.cache, &Calls::default()).await;
    let chain = app
        .request(
            http::Method::GET,
            "/host",
            &[("x-forwarded-host", "shop.example, lb.internal")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(
        (chain.x_cache(), text(&chain).as_str()),
        ("MISS", "host shop.example")
    );
    let direct = app
        .request(
            http::Method::GET,
            "/host",
            &[("x-forwarded-host", "shop.example")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(direct.x_cache(), "HIT", "the same public host");
}

/// A random number from the standard library's per-process hasher keys.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

/// A private route's key carries `hmac.<hex>`, the credential's MAC under
/// the key secret: two instances given one secret share a user's entry;
/// an instance with another secret (or none) computes its own, and the
/// digest is never a plain SHA-256 of the credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentialed_entries_are_shared_under_one_key_secret_only() {
    const SECRET: &str = "one deployment's secret, 32 byte";
    let f = Fixture::with(Backend::Redis, "key_secret", |b| b.key_secret(SECRET)).await;
    assert!(f.cache.config().has_key_secret());
    let same = f
        .another_instance_with(Backend::Redis, |b| b.key_secret(SECRET))
        .await;
    let other = f
        .another_instance_with(Backend::Redis, |b| {
            b.key_secret("another deployment's secret")
        })
        .await;
    let unset = f.another_instance(Backend::Redis).await;
    assert!(!unset.config().has_key_secret());
    let calls = Calls::default();
    let alice = [("authorization", "Bearer alice")];
    let request = || {
        let mut request = http::Request::get("/me").body(()).unwrap();
        request
            .headers_mut()
            .insert("authorization", "Bearer alice".parse().unwrap());
        request
    };
    let key = |cache: &RouteCache| {
        cache
            .key_for_request::<cache_runtime::route!(me)>(&request())
            .expect("a key")
    };
    let plain_sha256: String = {
        use sha2::Digest;
        sha2::Sha256::digest(b"Bearer alice")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let filled_key = key(&f.cache);
    assert!(filled_key.contains("#authorization=hmac."), "{filled_key}");
    assert!(!filled_key.contains(&plain_sha256), "{filled_key}");
    assert!(!filled_key.contains("alice"), "{filled_key}");
    assert_eq!(key(&same), filled_key);
    assert_ne!(key(&other), filled_key);
    assert_ne!(key(&unset), filled_key);

    let a = serve(&f.cache, &calls).await;
    assert_eq!(a.get_direct("/me", &alice).await.x_cache(), "MISS");
    let b = serve(&same, &calls).await;
    assert_eq!(
        b.get_direct("/me", &alice).await.x_cache(),
        "HIT",
        "one secret"
    );
    for cache in [&other, &unset] {
        let c = serve(cache, &calls).await;
        assert_eq!(c.get_direct("/me", &alice).await.x_cache(), "MISS");
    }
    // Entries without credentials do not depend on the secret.
    assert_eq!(a.get_direct("/items/5", &[]).await.x_cache(), "MISS");
    let c = serve(&other, &calls).await;
    assert_eq!(c.get_direct("/items/5", &[]).await.x_cache(), "HIT");
}

/// A key secret shorter than 16 bytes is refused at build, by name.
#[tokio::test]
async fn a_short_key_secret_is_a_build_error() {
    let error = RouteCache::builder()
        .key_secret("short")
        .build()
        .await
        .expect_err("too short");
    assert!(error.to_string().contains("key_secret"), "{error}");
}

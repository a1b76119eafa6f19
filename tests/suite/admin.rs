//! The admin API (`RouteCache::admin`), on every backend, over real HTTP:
//! purges by path, tag, route, namespace and everything, each followed by
//! a miss on the next request on two instances (with their L1s on the
//! two-tier backend); a soft purge serves the entry stale while one
//! refresh recomputes it; a missing or wrong token gets `401` and purges
//! nothing; `/routes` and `/stats` list what this instance has served.

use crate::support;

use axum::{
    extract::{Path, Query, State},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use http::Method;
use std::sync::Arc;
use support::{Backend, Calls, Fixture, TestApp};

const TOKEN: &str = "an-operator-token-0123456789";

#[cached_route(ttl = 3600, tags = ["item:{id}", "items"])]
async fn item(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<(u64, usize)> {
    Json((id, calls.record("item")))
}

#[derive(serde::Deserialize)]
struct Page {
    page: u32,
}

/// Keyed on the fields its `Query<T>` reads: `page` only.
#[cached_route(ttl = 3600)]
async fn listing(State(calls): State<Calls>, Query(p): Query<Page>) -> Json<(u32, usize)> {
    Json((p.page, calls.record("listing")))
}

/// One entry per user: keyed on the credential's HMAC.
#[cached_route(ttl = 3600, private = true)]
async fn me(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("me"))
}

#[cached_route(ttl = 3600, namespace = "reports", stale = 60)]
async fn report(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("report"))
}

fn route_id(name: &str) -> String {
    format!("{}::{name}", module_path!())
}

/// One instance: the cached routes and the admin router under `/_cache`.
/// Instances share `calls`, so that every computed body differs.
async fn instance(cache: &RouteCache, calls: &Calls) -> Arc<TestApp> {
    let calls = calls.clone();
    let router = Router::new()
        .route("/items/{id}", get(item))
        .route("/report", get(report))
        .route("/listing", get(listing))
        .route("/me", get(me))
        .with_state(calls.clone())
        .layer(cache.layer())
        .nest("/_cache", cache.admin(TOKEN).unwrap());
    Arc::new(TestApp::serve(router, calls).await)
}

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> support::Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    app.request(
        method,
        &format!("/_cache{path}"),
        &headers,
        bytes::Bytes::from(body.to_owned()),
    )
    .await
}

async fn purge(app: &TestApp, body: &str) -> serde_json::Value {
    ok_json(app, Method::POST, "/purge", body).await
}

/// An authorized admin call that must succeed: its JSON answer.
async fn ok_json(app: &TestApp, method: Method, path: &str, body: &str) -> serde_json::Value {
    let reply = admin(app, method, path, Some(TOKEN), body).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    reply.json()
}

/// An admin error answer: `status`, JSON with an `error` string, never
/// stored (`what` names the call in a failure).
fn assert_json_error(reply: &support::Reply, status: u16, what: &str) {
    assert_eq!(
        reply.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("cache-control"), "no-store", "{what}");
    assert_eq!(reply.header("content-type"), "application/json", "{what}");
    assert!(reply.json()["error"].is_string(), "{what}");
}

/// Fills `paths` (through the first instance, then a hit on each) and
/// returns their bodies.
async fn fill(apps: &[&TestApp], paths: &[&str]) -> Vec<bytes::Bytes> {
    let mut bodies = Vec::new();
    for path in paths {
        let filled = apps[0].get(path).await;
        for app in apps {
            let reply = app.get(path).await;
            assert_eq!(reply.x_cache(), "HIT", "{path} is filled");
            assert_eq!(reply.body, filled.body, "{path}: one entry for both");
        }
        bodies.push(filled.body);
    }
    bodies
}

/// After a purge, the purged entries (`old`) are gone on every instance:
/// the next request on the second (once its L1 has heard) misses, and the
/// first instance then gets the refilled entry, never the purged one.
async fn expect_purged(apps: &[&TestApp], paths: &[&str], old: &[bytes::Bytes]) {
    for (path, old) in paths.iter().zip(old) {
        let other = apps[apps.len() - 1];
        // The L1 message reaches the other instance within milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let next = loop {
            let reply = other.get(path).await;
            if reply.body != *old || std::time::Instant::now() > deadline {
                break reply;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_ne!(next.body, *old, "{path} still served after the purge");
        assert_eq!(next.x_cache(), "MISS", "{path} after the purge");
        for app in apps {
            assert_ne!(
                app.get(path).await.body,
                *old,
                "{path} purged on every instance"
            );
        }
    }
}

async fn purges_by_path_tag_route_namespace_and_all_miss_everywhere(backend: Backend) {
    let f = Fixture::new(backend, "admin-purge").await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let (a, b) = (
        instance(&f.cache, &calls).await,
        instance(&second, &calls).await,
    );
    let apps = [a.as_ref(), b.as_ref()];

    let old = fill(&apps, &["/items/1", "/items/2"]).await;
    let done = purge(&a, r#"{"paths": ["/items/1"]}"#).await;
    assert_eq!(done["invalidated"]["paths"], 1, "{done}");
    assert_eq!(done["soft"], false);
    expect_purged(&apps, &["/items/1"], &old[..1]).await;
    assert_eq!(b.get("/items/2").await.x_cache(), "HIT", "only the path");

    let done = purge(&a, r#"{"tags": ["item:2"]}"#).await;
    assert_eq!(done["invalidated"]["tags"], 1, "{done}");
    expect_purged(&apps, &["/items/2"], &old[1..]).await;

    let old = fill(&apps, &["/items/3", "/report"]).await;
    let route = route_id("item");
    let done = purge(&a, &format!(r#"{{"routes": ["{route}"]}}"#)).await;
    assert!(
        done["invalidated"]["routes"].as_u64().unwrap() >= 1,
        "{done}"
    );
    expect_purged(&apps, &["/items/3"], &old[..1]).await;
    assert_eq!(b.get("/report").await.x_cache(), "HIT", "another route");

    let done = purge(&a, r#"{"namespace": "reports"}"#).await;
    assert!(
        done["invalidated"]["namespace"].as_u64().unwrap() >= 1,
        "{done}"
    );
    expect_purged(&apps, &["/report"], &old[1..]).await;

    let old = fill(&apps, &["/items/4", "/report"]).await;
    let done = purge(&a, r#"{"all": true}"#).await;
    assert!(done["invalidated"]["all"].as_u64().unwrap() >= 2, "{done}");
    expect_purged(&apps, &["/items/4", "/report"], &old).await;
    assert_eq!(done["edge"]["sent"], 0, "no edge purger configured");
}

/// `soft: true` marks the entry stale: the next request is served stale
/// while one refresh recomputes it, and then the refreshed entry hits.
async fn a_soft_purge_serves_stale_then_refreshes(backend: Backend) {
    let f = Fixture::new(backend, "admin-soft").await;
    let app = instance(&f.cache, &Calls::default()).await;
    let first = app.get("/items/7").await;
    assert_eq!(app.get("/items/7").await.x_cache(), "HIT");
    let done = purge(&app, r#"{"tags": ["item:7"], "soft": true}"#).await;
    assert_eq!(done["soft"], true);
    assert_eq!(done["invalidated"]["tags"], 1, "{done}");
    let stale = app.get("/items/7").await;
    assert_eq!(stale.x_cache(), "STALE");
    assert_eq!(stale.body, first.body, "the marked entry, served stale");
    support::eventually(std::time::Duration::from_secs(5), || async {
        let reply = app.get("/items/7").await;
        reply.x_cache() == "HIT" && reply.body != first.body
    })
    .await;
}

/// No token, a wrong one, or another scheme: `401`, and nothing purged.
async fn a_missing_or_wrong_token_is_refused_and_purges_nothing(backend: Backend) {
    let f = Fixture::new(backend, "admin-auth").await;
    let app = instance(&f.cache, &Calls::default()).await;
    app.get("/items/9").await;
    let body = r#"{"all": true}"#;
    for token in [None, Some("wrong-token-0123456789"), Some("")] {
        let reply = admin(&app, Method::POST, "/purge", token, body).await;
        assert_eq!(reply.status, 401, "{token:?}");
        assert_eq!(reply.header("cache-control"), "no-store");
        assert!(reply.header("www-authenticate").starts_with("Bearer"));
    }
    let basic = app
        .request(
            Method::POST,
            "/_cache/purge",
            &[("authorization", &format!("Basic {TOKEN}"))],
            bytes::Bytes::from(body),
        )
        .await;
    assert_eq!(basic.status, 401);
    // Every endpoint, and paths and methods the API does not have: `401`,
    // JSON, never stored, before anything else is looked at.
    for (method, path) in [
        (Method::GET, "/stats"),
        (Method::GET, "/routes"),
        (Method::GET, "/explain?url=/items/9"),
        (Method::GET, "/explain"),
        (Method::GET, "/nowhere"),
        (Method::DELETE, "/purge"),
    ] {
        let reply = admin(&app, method.clone(), path, None, "").await;
        assert_json_error(&reply, 401, &format!("{method} {path}"));
    }
    assert_eq!(app.get("/items/9").await.x_cache(), "HIT", "nothing purged");
}

/// With the token, a path the API does not have is a JSON `404`, and a
/// method an endpoint does not take a JSON `405`, neither stored.
async fn unknown_paths_and_methods_are_json_errors(backend: Backend) {
    let f = Fixture::new(backend, "admin-404").await;
    let app = instance(&f.cache, &Calls::default()).await;
    let missing = admin(&app, Method::GET, "/nowhere", Some(TOKEN), "").await;
    assert_json_error(&missing, 404, "GET /nowhere");
    for (method, path) in [(Method::GET, "/purge"), (Method::POST, "/stats")] {
        let wrong = admin(&app, method.clone(), path, Some(TOKEN), "").await;
        assert_json_error(&wrong, 405, &format!("{method} {path}"));
    }
}

/// Malformed `/explain` queries: a `400` with a JSON reason, never a
/// panic, and nothing stored or computed.
async fn malformed_explain_queries_are_refused(backend: Backend) {
    let f = Fixture::new(backend, "admin-explain-bad").await;
    let calls = Calls::default();
    let app = instance(&f.cache, &calls).await;
    app.get("/items/1").await;
    for query in [
        "",
        "host=example.com",
        "url=http://%5Bbad",
        "url=/items/1&header=no-colon",
        "url=/items/1&header=bad%20name:value",
        "url=/items/1&header=x-ok:bad%0Avalue",
        "url=%ZZ",
    ] {
        let reply = admin(
            &app,
            Method::GET,
            &format!("/explain?{query}"),
            Some(TOKEN),
            "",
        )
        .await;
        assert_json_error(&reply, 400, query);
    }
    assert_eq!(calls.get("item"), 1, "explain ran no handler");
}

/// `/explain` reports the invalidation counters of what names the entry,
/// and an L1 copy answers before the store: the decision is the L1's.
async fn explain_reports_generations_and_the_l1(backend: Backend) {
    let f = Fixture::new(backend, "admin-explain-gen").await;
    let app = instance(&f.cache, &Calls::default()).await;
    app.get("/items/5").await;
    let url = "url=/items/5";
    let before = explain_json(&app, url).await;
    let generations = &before["generations"];
    assert!(generations["tags"]["items"].is_u64(), "{before}");
    assert!(
        generations["tags"].get("item:{id}").is_none(),
        "a templated tag is known only to the handler: {before}"
    );
    let tag_before = generations["tags"]["items"].as_u64().unwrap();
    let route_before = generations["route"].as_u64().unwrap();
    let path_before = generations["path"].as_u64().unwrap();
    purge(&app, r#"{"tags": ["items"]}"#).await;
    let after = explain_json(&app, url).await;
    assert!(
        after["generations"]["tags"]["items"].as_u64().unwrap() > tag_before,
        "{after}"
    );
    assert_eq!(
        after["generations"]["route"].as_u64().unwrap(),
        route_before
    );
    assert_eq!(after["decision"], "MISS");
    purge(&app, &format!(r#"{{"routes": ["{}"]}}"#, route_id("item"))).await;
    let routed = explain_json(&app, url).await;
    assert!(routed["generations"]["route"].as_u64().unwrap() > route_before);
    purge(&app, r#"{"paths": ["/items/5"]}"#).await;
    let pathed = explain_json(&app, url).await;
    assert!(pathed["generations"]["path"].as_u64().unwrap() > path_before);

    app.get("/items/5").await;
    app.get("/items/5").await;
    let filled = explain_json(&app, url).await;
    assert_eq!(filled["decision"], "HIT", "{filled}");
    if backend == Backend::TwoTier {
        assert_eq!(filled["l1"]["freshness"], "fresh", "{filled}");
        assert_eq!(filled["reason"], "a fresh entry is in this instance's L1");
        assert_eq!(
            filled["store"]["freshness"], "fresh",
            "the store too: {filled}"
        );
    } else {
        assert!(filled["l1"].is_null(), "{filled}");
        assert_eq!(filled["reason"], "a fresh entry is stored");
    }
}

/// `/routes` lists every cached route compiled in, from start-up, with
/// its options, where it was seen mounted and whether it was served;
/// `/stats` the counts; a purge naming an unknown route or field is a
/// `400` that purges nothing.
async fn routes_and_stats_describe_what_was_served(backend: Backend) {
    let f = Fixture::new(backend, "admin-routes").await;
    let app = instance(&f.cache, &Calls::default()).await;
    let route = |routes: &serde_json::Value, name: &str| {
        let listed = routes["routes"].as_array().expect("a list");
        listed
            .iter()
            .find(|r| r["route"] == route_id(name))
            .unwrap_or_else(|| panic!("{name} is listed: {routes}"))
            .clone()
    };
    // Before any request: known from the registry, not yet mounted.
    let fresh = ok_json(&app, Method::GET, "/routes", "").await;
    for name in ["item", "report", "listing", "me"] {
        let listed = route(&fresh, name);
        assert_eq!(listed["served"], false, "{listed}");
        assert_eq!(listed["mounted_at"], serde_json::json!([]), "{listed}");
    }
    assert_eq!(route(&fresh, "report")["namespace"], "reports");
    app.get("/items/1").await;
    app.get("/items/1").await;
    let routes = admin(&app, Method::GET, "/routes", Some(TOKEN), "").await;
    assert_eq!(routes.status, 200);
    assert_eq!(routes.header("cache-control"), "no-store");
    let routes = routes.json();
    let item = route(&routes, "item");
    assert_eq!(item["served"], true);
    assert_eq!(item["mounted_at"], serde_json::json!(["/items/{id}"]));
    assert_eq!(route(&routes, "report")["served"], false);
    assert_eq!(item["ttl"], 3600);
    assert_eq!(item["key"], "request");
    // The route's segment of its keys, and the key `/items/1` was stored
    // under starts with it.
    let route_key = support::key_segment(&route_id("item"));
    assert_eq!(item["route_key"], route_key.as_str());
    let stored = f.cache.key_for::<cache_runtime::route!(item)>("/items/1");
    let scope = format!("{}:{route_key}:GET:", f.cache.config().prefix);
    assert!(
        stored.as_deref().is_some_and(|k| k.starts_with(&scope)),
        "{stored:?}"
    );
    assert_eq!(item["tags"], serde_json::json!(["item:{id}", "items"]));
    assert_eq!(item["revalidate"], false);
    assert_eq!(item["shadow"], false);

    let stats = admin(&app, Method::GET, "/stats", Some(TOKEN), "")
        .await
        .json();
    let route = &stats["routes"][0];
    assert_eq!(route["route"], route_id("item"));
    assert_eq!(route["hits"], 1, "{stats}");
    assert_eq!(route["misses"], 1, "{stats}");

    // A route compiled in but never served is a route all the same.
    let never = purge(
        &app,
        &format!(r#"{{"routes": ["{}"]}}"#, route_id("report")),
    )
    .await;
    assert_eq!(never["invalidated"]["routes"], 0, "{never}");
    for body in [
        r#"{"routes": ["app::no_such_route"]}"#,
        r#"{"colour": "red"}"#,
        r#"{}"#,
        "not json",
        r#"{"paths": "/items/1"}"#,
    ] {
        let reply = admin(&app, Method::POST, "/purge", Some(TOKEN), body).await;
        assert_eq!(
            reply.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(app.get("/items/1").await.x_cache(), "HIT", "nothing purged");
}

async fn explain_json(app: &TestApp, query: &str) -> serde_json::Value {
    ok_json(app, Method::GET, &format!("/explain?{query}"), "").await
}

/// Explain, without running the handler: the query fields kept and
/// dropped, HIT after a fill and MISS after a purge; for a private route,
/// that the key carries a credential, never the credential.
async fn explain_names_the_key_inputs_and_the_decision(backend: Backend) {
    let f = Fixture::new(backend, "admin-explain").await;
    let calls = Calls::default();
    let app = instance(&f.cache, &calls).await;
    // Learned on the route's first request.
    app.get("/listing?page=1").await;
    let url = "url=%2Flisting%3Fpage%3D2%26junk%3D1";
    let before = explain_json(&app, url).await;
    assert_eq!(before["decision"], "MISS", "{before}");
    assert_eq!(before["mounted_at"], "/listing");
    assert_eq!(before["inputs"]["query"]["rule"], "fields", "{before}");
    assert_eq!(
        before["inputs"]["query"]["kept"],
        serde_json::json!(["page"])
    );
    assert_eq!(
        before["inputs"]["query"]["dropped"],
        serde_json::json!(["junk"])
    );
    let runs = calls.get("listing");
    app.get("/listing?page=2&junk=1").await;
    let filled = explain_json(&app, url).await;
    assert_eq!(filled["decision"], "HIT", "{filled}");
    assert_eq!(filled["key"]["hash"], before["key"]["hash"]);
    assert!(
        filled["store"]["ttl_left_secs"].as_u64().unwrap() > 3500,
        "{filled}"
    );
    let text = filled.to_string();
    assert!(
        !text.contains("/listing?page=2"),
        "never the raw key: {text}"
    );
    assert_eq!(calls.get("listing"), runs + 1, "explain ran no handler");
    purge(&app, r#"{"paths": ["/listing?page=2"]}"#).await;
    let purged = explain_json(&app, url).await;
    assert_eq!(purged["decision"], "MISS", "{purged}");

    app.get_direct("/me", &[("authorization", "Bearer secret-user-token")])
        .await;
    let me = explain_json(
        &app,
        "url=/me&header=authorization:Bearer%20secret-user-token",
    )
    .await;
    assert_eq!(me["decision"], "HIT", "{me}");
    assert_eq!(
        me["inputs"]["credentials"]["keyed"],
        serde_json::json!(["authorization"])
    );
    assert!(!me.to_string().contains("secret-user-token"), "{me}");
    let other = explain_json(&app, "url=/me&header=authorization:Bearer%20another").await;
    assert_eq!(other["decision"], "MISS", "another user's entry: {other}");
    assert_ne!(other["key"]["hash"], me["key"]["hash"]);

    let unknown = admin(&app, Method::GET, "/explain?url=/nowhere", Some(TOKEN), "").await;
    assert_eq!(unknown.status, 404);
    let no_such = "/explain?url=/items/1&route=app::no_such_route";
    assert_eq!(
        admin(&app, Method::GET, no_such, Some(TOKEN), "")
            .await
            .status,
        404
    );
    let refused = admin(&app, Method::GET, &format!("/explain?{url}"), None, "").await;
    assert_eq!(refused.status, 401);
}

/// A route not yet seen mounted is explained when named: `route=<id>`,
/// on a fresh instance, before any request.
async fn explain_names_a_route_before_any_request(backend: Backend) {
    let f = Fixture::new(backend, "admin-explain-fresh").await;
    let calls = Calls::default();
    let app = instance(&f.cache, &calls).await;
    let unmounted = admin(
        &app,
        Method::GET,
        "/explain?url=%2Flisting%3Fpage%3D2%26junk%3D1",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(unmounted.status, 404, "no mount point known yet");
    assert!(unmounted.json()["error"]
        .as_str()
        .unwrap()
        .contains("route="));
    let query = format!(
        "url=%2Flisting%3Fpage%3D2%26junk%3D1&route={}",
        route_id("listing")
    );
    let named = explain_json(&app, &query).await;
    assert_eq!(named["decision"], "MISS", "{named}");
    assert!(named["mounted_at"].is_null(), "{named}");
    assert_eq!(
        named["inputs"]["query"]["kept"],
        serde_json::json!(["page"])
    );
    assert_eq!(
        named["inputs"]["query"]["dropped"],
        serde_json::json!(["junk"])
    );
    app.get("/listing?page=2&junk=1").await;
    let filled = explain_json(&app, &query).await;
    assert_eq!(filled["decision"], "HIT", "{filled}");
    assert_eq!(filled["key"]["hash"], named["key"]["hash"]);
    assert_eq!(filled["mounted_at"], "/listing");
    assert_eq!(calls.get("listing"), 1, "explain ran no handler");
}

backend_matrix!(
    explain_names_a_route_before_any_request,
    explain_names_the_key_inputs_and_the_decision,
    explain_reports_generations_and_the_l1,
    malformed_explain_queries_are_refused,
    unknown_paths_and_methods_are_json_errors,
    purges_by_path_tag_route_namespace_and_all_miss_everywhere,
    a_soft_purge_serves_stale_then_refreshes,
    a_missing_or_wrong_token_is_refused_and_purges_nothing,
    routes_and_stats_describe_what_was_served,
);

/// A short or empty token is a configuration error, reported when the
/// router is built.
#[test]
fn a_short_token_is_refused_at_build_time() {
    for token in ["", "short", "fifteen-bytes!!"] {
        let refused = RouteCache::embedded().admin(token).err();
        let Some(cache_runtime::CacheError::InvalidSetting { setting, rule }) = refused else {
            panic!("{token:?} was accepted");
        };
        assert_eq!(setting, "admin");
        assert!(rule.contains("at least 16 bytes"), "{rule}");
    }
    assert!(RouteCache::embedded().admin("sixteen-bytes!!!").is_ok());
}

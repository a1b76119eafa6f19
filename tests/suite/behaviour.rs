//! Cache behaviour through a real HTTP server, run against every backend:
//! a real `redis-server` and the in-process store (see `backend_matrix!`).

use crate::support;

use bytes::Bytes;
use cache_runtime::entry::Entry;
use http::Method;
use std::time::Duration;
use support::{app, Backend, Fixture, TestApp};

backend_matrix!(
    miss_then_hit_runs_the_handler_once,
    head_is_answered_from_the_get_entry,
    entries_expire_after_the_ttl,
    query_parameters_are_normalised,
    different_paths_and_routes_get_different_entries,
    non_2xx_and_err_results_are_not_stored,
    return_and_question_mark_go_through_the_cache,
    set_cookie_and_no_store_responses_are_not_stored,
    oversized_bodies_are_returned_but_not_stored,
    a_corrupt_entry_is_a_miss_and_is_overwritten,
    entries_of_the_previous_format_are_misses_both_ways,
    a_hit_serves_the_entry_the_store_holds_now,
    status_and_headers_survive_a_hit,
    other_methods_are_never_cached,
    a_router_without_the_layer_still_answers,
    nested_mounts_of_one_handler_never_share_entries,
    a_head_miss_does_not_store_the_get_entry,
    a_response_varying_on_an_unkeyed_header_is_not_stored,
);

async fn setup(backend: Backend, test: &str) -> (Fixture, TestApp) {
    let fixture = Fixture::new(backend, test).await;
    let app = TestApp::spawn(&fixture.cache).await;
    (fixture, app)
}

async fn miss_then_hit_runs_the_handler_once(backend: Backend) {
    let (_f, app) = setup(backend, "miss_then_hit").await;
    let first = app.get("/items/1").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(first.json()["run"], 1);
    assert_eq!(first.headers["content-type"], "application/json");

    for _ in 0..3 {
        let hit = app.get("/items/1").await;
        assert_eq!(hit.status, 200);
        assert_eq!(hit.x_cache(), "HIT");
        assert_eq!(
            hit.body, first.body,
            "a hit returns the stored bytes as they were"
        );
        assert_eq!(hit.headers["content-type"], "application/json");
        let age: u64 = hit.headers["age"].to_str().unwrap().parse().unwrap();
        assert!(age < 60, "age {age}");
    }
    assert_eq!(app.calls.get("items"), 1, "the handler body ran once");
}

async fn head_is_answered_from_the_get_entry(backend: Backend) {
    let (_f, app) = setup(backend, "head").await;
    assert_eq!(app.get("/items/3").await.x_cache(), "MISS");
    let head = app
        .request(Method::HEAD, "/items/3", &[], Bytes::new())
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.x_cache(), "HIT");
    assert!(head.body.is_empty());
    assert_eq!(app.calls.get("items"), 1);
}

async fn entries_expire_after_the_ttl(backend: Backend) {
    let (_f, app) = setup(backend, "ttl").await;
    assert_eq!(app.get("/short/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/short/1").await.x_cache(), "HIT");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let after = app.get("/short/1").await;
    assert_eq!(after.x_cache(), "MISS", "the ttl = 1 entry expired");
    assert_eq!(after.json()["run"], 2);
    assert_eq!(app.calls.get("short"), 2);
}

async fn query_parameters_are_normalised(backend: Backend) {
    let (_f, app) = setup(backend, "query").await;
    let first = app.get("/search?a=1&b=2").await;
    assert_eq!(first.x_cache(), "MISS");
    // Order of distinct names does not matter, nor does %-encoding of
    // unreserved characters.
    for same in [
        "/search?b=2&a=1",
        "/search?%61=1&b=%32",
        "/search?a=1&&b=2&",
    ] {
        let reply = app.get(same).await;
        assert_eq!(reply.x_cache(), "HIT", "{same}");
        assert_eq!(reply.body, first.body, "{same}");
    }
    // Repeated parameters keep their order and never merge.
    let repeated = app.get("/search?a=1&a=2").await;
    assert_eq!(repeated.x_cache(), "MISS");
    assert_eq!(
        repeated.json()["pairs"],
        serde_json::json!([["a", "1"], ["a", "2"]])
    );
    for different in [
        "/search?a=2&a=1",
        "/search?a=12",
        "/search?a=1%26a=2",
        "/search",
    ] {
        assert_eq!(app.get(different).await.x_cache(), "MISS", "{different}");
    }
    assert_eq!(app.get("/search?a=1&a=2").await.x_cache(), "HIT");
    assert_eq!(app.calls.get("search"), 6);
}

async fn different_paths_and_routes_get_different_entries(backend: Backend) {
    let (f, app) = setup(backend, "paths").await;
    let one = app.get("/items/1").await;
    let two = app.get("/items/2").await;
    assert_eq!((one.x_cache(), two.x_cache()), ("MISS", "MISS"));
    assert_eq!(app.get("/items/1").await.json()["id"], 1);
    assert_eq!(app.get("/items/2").await.json()["id"], 2);
    assert_eq!(app.calls.get("items"), 2);

    // Another handler serving the same path, same cache and prefix: its own
    // entries, never the first route's.
    let calls = support::Calls::default();
    let other = TestApp::serve(
        app::other_router(calls.clone()).layer(f.cache.layer()),
        calls,
    )
    .await;
    let reply = other.get("/items/1").await;
    assert_eq!(reply.x_cache(), "MISS");
    assert_eq!(reply.json()["name"], "other 1");
    assert_eq!(other.get("/items/1").await.json()["name"], "other 1");
    assert_eq!(app.get("/items/1").await.json()["name"], "item 1");
}

async fn non_2xx_and_err_results_are_not_stored(backend: Backend) {
    let (_f, app) = setup(backend, "non2xx").await;
    for code in [404, 500, 302, 418] {
        let path = format!("/status/{code}");
        for _ in 0..2 {
            let reply = app.get(&path).await;
            assert_eq!(reply.status.as_u16(), code);
            assert_eq!(reply.x_cache(), "MISS", "{path}");
        }
    }
    assert_eq!(app.calls.get("status"), 8);
    // 203 and 204 are stored besides 200; 201, 202 and 206 never
    // (RFC 9110 §15.3: they answer one request, they are no
    // representation to reuse).
    for code in [201, 202, 206] {
        let path = format!("/status/{code}");
        for _ in 0..2 {
            assert_eq!(app.get(&path).await.x_cache(), "MISS", "{path}");
        }
    }
    assert_eq!(app.get("/status/203").await.x_cache(), "MISS");
    let hit = app.get("/status/203").await;
    assert_eq!((hit.status.as_u16(), hit.x_cache()), (203, "HIT"));

    for _ in 0..2 {
        let reply = app.get("/fallible/fail").await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.x_cache(), "MISS");
        assert_eq!(reply.body, "it failed");
    }
    assert_eq!(app.calls.get("fallible"), 2);
}

async fn return_and_question_mark_go_through_the_cache(backend: Backend) {
    let (_f, app) = setup(backend, "return").await;
    let ok = app.get("/fallible/ok").await;
    assert_eq!((ok.x_cache(), ok.json()), ("MISS", serde_json::json!(1)));
    assert_eq!(app.get("/fallible/ok").await.x_cache(), "HIT");
    let early = app.get("/fallible/early").await;
    assert_eq!(
        (early.x_cache(), early.json()),
        ("MISS", serde_json::json!(1002))
    );
    let again = app.get("/fallible/early").await;
    assert_eq!(
        (again.x_cache(), again.json()),
        ("HIT", serde_json::json!(1002))
    );
    assert_eq!(app.calls.get("fallible"), 2);
}

async fn set_cookie_and_no_store_responses_are_not_stored(backend: Backend) {
    let (_f, app) = setup(backend, "cookie").await;
    for run in 1..=2 {
        let reply = app.get("/cookie").await;
        assert_eq!(reply.x_cache(), "MISS");
        assert_eq!(reply.headers["set-cookie"], "session=abc");
        assert_eq!(reply.json(), run);
        let reply = app.get("/no-store").await;
        assert_eq!(reply.x_cache(), "MISS");
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert_eq!(reply.json(), run);
    }
}

async fn oversized_bodies_are_returned_but_not_stored(backend: Backend) {
    let (_f, app) = setup(backend, "oversized").await;
    for _ in 0..2 {
        let reply = app.get("/big/5000").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.len(), 5000, "the whole body is returned");
        assert_eq!(reply.x_cache(), "MISS");
    }
    assert_eq!(app.calls.get("big"), 2);
    // At the limit it is stored.
    assert_eq!(app.get("/big/1024").await.x_cache(), "MISS");
    let hit = app.get("/big/1024").await;
    assert_eq!((hit.x_cache(), hit.body.len()), ("HIT", 1024));
}

async fn a_corrupt_entry_is_a_miss_and_is_overwritten(backend: Backend) {
    let (f, app) = setup(backend, "corrupt").await;
    let key = f
        .cache
        .key_for::<cache_runtime::route!(app::items)>("http://app.test/items/7")
        .unwrap();
    for garbage in [
        &b"{\"id\":7}"[..],
        b"RC\x01\x00\x00",
        b"",
        b"\xff\xfe garbage",
    ] {
        f.cache
            .raw_set(
                &key,
                Bytes::copy_from_slice(garbage),
                Duration::from_secs(60),
            )
            .await
            .expect("write garbage");
        let reply = app.get("/items/7").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.x_cache(), "MISS", "garbage {garbage:?} is a miss");
        assert_eq!(reply.json()["id"], 7);
        let stored = f
            .cache
            .raw_get(&key)
            .await
            .unwrap()
            .expect("the fresh response was stored");
        let entry = Entry::decode(stored).expect("and it decodes");
        assert_eq!(entry.body, reply.body);
        assert_eq!(app.get("/items/7").await.x_cache(), "HIT");
    }
    assert_eq!(app.calls.get("items"), 4);
}

/// Entries written by the previous format (version 1: `tests/fixtures`,
/// bytes as the build before the version bump wrote them, one plain and one
/// gzip-compressed) are misses for today's decoder, never served; and what
/// today's encoder writes is refused by the version-1 decoder's check, so
/// old instances sharing the Redis during a rolling upgrade miss too.
async fn entries_of_the_previous_format_are_misses_both_ways(backend: Backend) {
    let (f, app) = setup(backend, "format_versions").await;
    let key = f
        .cache
        .key_for::<cache_runtime::route!(app::items)>("/items/11")
        .unwrap();
    let fixtures: [&[u8]; 2] = [
        include_bytes!("../fixtures/entry-v1-plain.bin"),
        include_bytes!("../fixtures/entry-v1-gzip.bin"),
    ];
    for (i, fixture) in fixtures.into_iter().enumerate() {
        // Fresh: stored now, so that only the version can make it a miss.
        let mut old = fixture.to_vec();
        old[6..14].copy_from_slice(&now_ms().to_be_bytes());
        assert_eq!(old[2], 1, "a version-1 fixture");
        assert!(
            matches!(
                Entry::decode(Bytes::from(old.clone())),
                Err(cache_runtime::entry::DecodeError::UnknownVersion(1))
            ),
            "today's decoder refuses version 1"
        );
        f.cache
            .raw_set(&key, Bytes::from(old), Duration::from_secs(60))
            .await
            .expect("write the old entry");
        let reply = app.get("/items/11").await;
        assert_eq!(reply.x_cache(), "MISS", "fixture {i} is a miss");
        assert_eq!(
            reply.json()["id"],
            11,
            "the handler's answer, not the old bytes"
        );
        let stored = f.cache.raw_get(&key).await.unwrap().expect("re-stored");
        assert!(
            !version_1_decoder_accepts(&stored),
            "a version-1 instance would not serve the new entry"
        );
        assert_eq!(app.get("/items/11").await.x_cache(), "HIT");
    }
}

/// The version check of the version-1 decoder (commit 217bf5b,
/// `entry/mod.rs`, `Entry::decode`): magic `RC`, then version 1; anything
/// else is `BadMagic` or `UnknownVersion`, a miss.
fn version_1_decoder_accepts(value: &[u8]) -> bool {
    value.len() >= 3 && &value[..2] == b"RC" && value[2] == 1
}

fn now_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(now.expect("clock after 1970").as_millis()).expect("ms fit")
}

async fn a_hit_serves_the_entry_the_store_holds_now(backend: Backend) {
    // Decoded entries and their header blocks are reused between hits
    // (kept by the in-process tiers, or remembered while Redis returns the
    // same bytes); an entry replaced in the store must never be answered
    // from them.
    let (f, app) = setup(backend, "replaced").await;
    let key = f
        .cache
        .key_for::<cache_runtime::route!(app::items)>("http://app.test/items/8")
        .unwrap();
    assert_eq!(app.get("/items/8").await.x_cache(), "MISS");
    let before = app.get("/items/8").await;
    assert_eq!(before.x_cache(), "HIT");
    for body in ["{\"replaced\":1}", "{\"replaced\":2}"] {
        let mut entry = Entry::new(http::StatusCode::OK, now_ms(), 3600, Bytes::from(body));
        entry.content_type = Some(http::HeaderValue::from_static("application/json"));
        f.cache
            .raw_set(
                &key,
                Bytes::from(entry.encode().unwrap()),
                Duration::from_secs(60),
            )
            .await
            .expect("replace the entry");
        for _ in 0..2 {
            let hit = app.get("/items/8").await;
            assert_eq!(hit.x_cache(), "HIT");
            assert_eq!(hit.body, body.as_bytes(), "the replaced entry is served");
            assert_eq!(hit.headers["content-length"], body.len().to_string());
        }
    }
    assert_eq!(app.calls.get("items"), 1);
}

async fn status_and_headers_survive_a_hit(backend: Backend) {
    let (_f, app) = setup(backend, "headers").await;
    let first = app.get("/with-headers").await;
    assert_eq!((first.status.as_u16(), first.x_cache()), (203, "MISS"));
    let hit = app.get("/with-headers").await;
    assert_eq!((hit.status.as_u16(), hit.x_cache()), (203, "HIT"));
    assert_eq!(hit.headers["x-run"], "1");
    assert_eq!(hit.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(hit.body, first.body);
}

async fn other_methods_are_never_cached(backend: Backend) {
    let (_f, app) = setup(backend, "post").await;
    for run in 1..=2 {
        let reply = app
            .request(
                Method::POST,
                "/echo",
                &[("content-type", "application/json")],
                Bytes::from_static(b"{\"x\":1}"),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["run"], run);
        assert_eq!(reply.json()["echo"]["x"], 1);
    }
}

async fn a_router_without_the_layer_still_answers(backend: Backend) {
    let _f = Fixture::new(backend, "nolayer").await;
    let calls = support::Calls::default();
    let app = TestApp::serve(app::router(calls.clone()), calls).await;
    for run in 1..=2 {
        let reply = app.get("/items/5").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["run"], run);
        assert!(reply.headers.get("x-cache").is_none());
    }
}

async fn nested_mounts_of_one_handler_never_share_entries(backend: Backend) {
    let f = Fixture::new(backend, "nested").await;
    let calls = support::Calls::default();
    let app = TestApp::serve(
        app::nested_router(calls.clone()).layer(f.cache.layer()),
        calls,
    )
    .await;
    assert_eq!(app.get("/a/items/1").await.x_cache(), "MISS");
    assert_eq!(
        app.get("/b/items/1").await.x_cache(),
        "MISS",
        "/b must not be served /a's entry"
    );
    assert_eq!(app.get("/a/items/1").await.x_cache(), "HIT");
    assert_eq!(app.get("/b/items/1").await.x_cache(), "HIT");
    assert_eq!(app.calls.get("items"), 2);
}

async fn a_head_miss_does_not_store_the_get_entry(backend: Backend) {
    let (_f, app) = setup(backend, "head_miss").await;
    let head = app
        .request(Method::HEAD, "/items/9", &[], Bytes::new())
        .await;
    assert_eq!((head.status.as_u16(), head.x_cache()), (200, "MISS"));
    let get = app.get("/items/9").await;
    assert_eq!(get.x_cache(), "MISS", "a HEAD miss stores nothing");
    assert_eq!(get.json()["id"], 9);
    assert_eq!(app.get("/items/9").await.x_cache(), "HIT");
}

async fn a_response_varying_on_an_unkeyed_header_is_not_stored(backend: Backend) {
    let (_f, app) = setup(backend, "unkeyed_vary").await;
    for run in 1..=2 {
        let reply = app.get("/unkeyed-vary").await;
        assert_eq!(reply.x_cache(), "MISS");
        assert_eq!(reply.json(), run);
    }
}

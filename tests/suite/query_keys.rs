//! Keys that cover exactly the query parameters a handler reads, over real
//! HTTP: a handler reading the query through `Query<T>` is keyed on the
//! parameters `T` deserializes, so junk parameters (cache busting) neither
//! split nor bypass its entry; handlers that read the raw query, an
//! explicit `query = …` and a `T` whose fields cannot be learned keep
//! their keys as before; invalidating by path reaches the entry whatever
//! junk the request that stored it carried.

use crate::support;

use axum::{
    extract::{Query, RawQuery, State},
    routing::get,
    Json, Router,
};
use cache_runtime::cached_route;
use serde::Deserialize;
use std::collections::HashMap;
use support::{Backend, Calls, Fixture, TestApp};

#[derive(Deserialize)]
struct Page {
    page: Option<u32>,
    #[serde(rename = "per-page", alias = "limit")]
    per_page: Option<u32>,
}

#[cached_route(ttl = 60)]
async fn listing(State(calls): State<Calls>, Query(page): Query<Page>) -> Json<serde_json::Value> {
    let run = calls.record("listing");
    Json(serde_json::json!({ "page": page.page, "per_page": page.per_page, "run": run }))
}

#[cached_route(ttl = 60)]
async fn raw(State(calls): State<Calls>, RawQuery(query): RawQuery) -> String {
    let run = calls.record("raw");
    format!("{query:?} run {run}")
}

#[cached_route(ttl = 60, query = ["page"])]
async fn explicit(State(calls): State<Calls>, Query(page): Query<Page>) -> String {
    let run = calls.record("explicit");
    format!("{:?} {:?} run {run}", page.page, page.per_page)
}

#[derive(Deserialize)]
struct Filters {
    page: Option<u32>,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

#[cached_route(ttl = 60)]
async fn flattened(State(calls): State<Calls>, Query(filters): Query<Filters>) -> String {
    let run = calls.record("flattened");
    let mut rest: Vec<_> = filters.rest.into_iter().collect();
    rest.sort();
    format!("{:?} {rest:?} run {run}", filters.page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Strict {
    page: u32,
}

#[cached_route(ttl = 60)]
async fn strict(State(calls): State<Calls>, Query(strict): Query<Strict>) -> String {
    let run = calls.record("strict");
    format!("page {} run {run}", strict.page)
}

async fn serve(f: &Fixture) -> TestApp {
    let calls = Calls::default();
    let router = Router::new()
        .route("/listing", get(listing))
        .route("/raw", get(raw))
        .route("/explicit", get(explicit))
        .route("/flattened", get(flattened))
        .route("/strict", get(strict))
        .with_state(calls.clone())
        .layer(f.cache.layer());
    TestApp::serve(router, calls).await
}

/// A little generator, so that every junk parameter is new.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// 10,000 requests, each with new junk parameters around the one the
/// handler reads: the handler runs once, and every later request is a hit
/// with the first response's body.
async fn junk_parameters_neither_split_nor_bypass(backend: Backend) {
    let f = Fixture::new(backend, "query-junk").await;
    let app = serve(&f).await;
    let first = app.get("/listing?page=3").await;
    assert_eq!(first.x_cache(), "MISS");
    let app = std::sync::Arc::new(app);
    let mut junk = Junk(0x9E37_79B9_7F4A_7C15);
    // 10,000 requests, 50 at a time.
    for batch in 0..200u32 {
        let tasks: Vec<_> = (0..50u32)
            .map(|j| {
                let (a, b) = (junk.next(), junk.next());
                let path = match (batch * 50 + j) % 4 {
                    0 => format!("/listing?_={a}&page=3"),
                    1 => format!("/listing?page=3&utm_source={a:x}&utm_campaign={b:x}"),
                    2 => format!("/listing?{a:x}={b:x}&page=3&%5F={a}"),
                    _ => format!("/listing?page=3&fbclid={a:x}{b:x}&cb"),
                };
                let app = std::sync::Arc::clone(&app);
                tokio::spawn(async move { (app.get(&path).await, path) })
            })
            .collect();
        for task in tasks {
            let (reply, path) = task.await.expect("request task");
            assert_eq!(reply.x_cache(), "HIT", "{path}");
            assert_eq!(reply.body, first.body, "{path}");
        }
    }
    assert_eq!(app.calls.get("listing"), 1, "the handler ran once");
}

/// The parameters `T` reads still split entries, under their renamed and
/// aliased names, in any order and with any junk around them.
async fn the_parameters_read_still_split_entries(backend: Backend) {
    let f = Fixture::new(backend, "query-split").await;
    let app = serve(&f).await;
    assert_eq!(app.get("/listing?page=1").await.json()["page"], 1);
    assert_eq!(app.get("/listing?page=2").await.json()["page"], 2);
    let both = app.get("/listing?page=2&per-page=5").await;
    assert_eq!(both.x_cache(), "MISS");
    assert_eq!(both.json()["per_page"], 5);
    let alias = app.get("/listing?limit=7&page=2").await;
    assert_eq!(alias.x_cache(), "MISS");
    assert_eq!(alias.json()["per_page"], 7);
    assert_eq!(app.calls.get("listing"), 4);
    let reordered = app.get("/listing?x=1&per-page=5&page=2").await;
    assert_eq!(reordered.x_cache(), "HIT");
    assert_eq!(reordered.body, both.body);
    // No parameter at all is its own entry, which junk alone also reaches.
    let bare = app.get("/listing").await;
    assert_eq!(bare.x_cache(), "MISS");
    assert_eq!(app.get("/listing?junk=1").await.body, bare.body);
    assert_eq!(app.calls.get("listing"), 5);
}

/// A handler that reads the raw query keeps every parameter in its key;
/// an explicit `query = …` wins over the learned fields; a `T` with
/// `#[serde(flatten)]` cannot be learned and keys on every parameter.
async fn raw_explicit_and_unlearnable_queries_keep_their_keys(backend: Backend) {
    let f = Fixture::new(backend, "query-kept").await;
    let app = serve(&f).await;
    app.get("/raw?a=1").await;
    assert_eq!(app.get("/raw?a=1&junk=2").await.x_cache(), "MISS");
    assert_eq!(app.calls.get("raw"), 2);

    app.get("/explicit?page=1&per-page=2").await;
    // `per-page` is read by the handler but left out by `query = ["page"]`.
    let hit = app.get("/explicit?page=1&per-page=9").await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(app.calls.get("explicit"), 1);

    let a = app.get("/flattened?page=1&colour=red").await;
    let b = app.get("/flattened?page=1&colour=blue").await;
    assert_eq!((a.x_cache(), b.x_cache()), ("MISS", "MISS"));
    assert!(String::from_utf8_lossy(&b.body).contains("blue"));
    assert_eq!(app.calls.get("flattened"), 2);
}

/// The extractors run on hits too: a query `Query<T>` rejects gets axum's
/// rejection, never the stored answer of the parameters it would keep.
async fn rejected_queries_are_never_answered_from_the_cache(backend: Backend) {
    let f = Fixture::new(backend, "query-strict").await;
    let app = serve(&f).await;
    assert_eq!(app.get("/strict?page=1").await.x_cache(), "MISS");
    assert_eq!(app.get("/strict?page=1").await.x_cache(), "HIT");
    let rejected = app.get("/strict?page=1&junk=2").await;
    assert_eq!(rejected.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get("/strict?page=x").await.status,
        http::StatusCode::BAD_REQUEST
    );
    assert_eq!(app.calls.get("strict"), 1);
}

/// `invalidate("/listing?page=4")` removes the entry a request with junk
/// parameters stored: the path index is keyed like the entry.
async fn invalidating_the_path_reaches_entries_stored_with_junk(backend: Backend) {
    let f = Fixture::new(backend, "query-invalidate").await;
    let app = serve(&f).await;
    app.get("/listing?page=4&utm_source=mail").await;
    assert_eq!(app.get("/listing?page=4").await.x_cache(), "HIT");
    let removed = f.cache.invalidate("/listing?page=4").await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(app.get("/listing?page=4&other=1").await.x_cache(), "MISS");
    assert_eq!(app.calls.get("listing"), 2);
}

backend_matrix!(
    junk_parameters_neither_split_nor_bypass,
    the_parameters_read_still_split_entries,
    raw_explicit_and_unlearnable_queries_keep_their_keys,
    invalidating_the_path_reaches_entries_stored_with_junk,
    rejected_queries_are_never_answered_from_the_cache,
);

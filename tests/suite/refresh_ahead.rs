//! Refresh-ahead, on every backend, over real HTTP: a route with a 2 s TTL
//! and `refresh_ahead = 0.5` polled every 100 ms for 6 s never misses
//! after the first request, because a hit on an entry 1 s old recomputes
//! it in the background, once per key. Without the option the same poll
//! misses every 2 s, which the control test shows.

use crate::support;

use axum::{extract::State, routing::get, Json, Router};
use cache_runtime::cached_route;
use std::time::{Duration, Instant};
use support::{Backend, Calls, Fixture, TestApp};

#[cached_route(ttl = 2, refresh_ahead = 0.5)]
async fn clock(State(calls): State<Calls>) -> Json<serde_json::Value> {
    let run = calls.record("clock");
    Json(serde_json::json!({ "run": run }))
}

#[cached_route(ttl = 2)]
async fn plain_clock(State(calls): State<Calls>) -> Json<serde_json::Value> {
    let run = calls.record("plain_clock");
    Json(serde_json::json!({ "run": run }))
}

async fn serve(f: &Fixture) -> TestApp {
    let calls = Calls::default();
    let router = Router::new()
        .route("/clock", get(clock))
        .route("/plain-clock", get(plain_clock))
        .with_state(calls.clone())
        .layer(f.cache.layer());
    TestApp::serve(router, calls).await
}

/// Polls `path` every 100 ms for 6 s; the `x-cache` of every answer after
/// the first, and the runs they carry.
async fn poll(app: &TestApp, path: &str) -> (Vec<String>, Vec<u64>) {
    let first = app.get(path).await;
    assert_eq!(first.x_cache(), "MISS");
    let (mut outcomes, mut runs) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while start.elapsed() < Duration::from_secs(6) {
        tick.tick().await;
        let reply = app.get(path).await;
        outcomes.push(reply.x_cache().to_owned());
        runs.push(reply.json()["run"].as_u64().unwrap_or(0));
    }
    (outcomes, runs)
}

async fn a_hot_key_never_misses(backend: Backend) {
    let f = Fixture::new(backend, "refresh-ahead").await;
    let app = serve(&f).await;
    let (outcomes, runs) = poll(&app, "/clock").await;
    let misses: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| *o != "HIT")
        .map(|(i, _)| i)
        .collect();
    assert!(
        misses.is_empty(),
        "answers after the first that were no hit: {misses:?} of {}",
        outcomes.len()
    );
    // Refreshed: every second or so, so at least four times in 6 s (once
    // per key, not once per hit), and the answers moved on to the
    // refreshed entries.
    let ran = app.calls.get("clock");
    assert!((4..=9).contains(&ran), "the handler ran {ran} times");
    assert!(runs.windows(2).all(|w| w[0] <= w[1]), "{runs:?}");
    assert!(runs.last().copied().unwrap_or(0) >= 4, "{runs:?}");
}

/// The control: without refresh-ahead, the same poll misses when the entry
/// expires.
async fn without_it_the_poll_misses_on_expiry(backend: Backend) {
    let f = Fixture::new(backend, "refresh-ahead-off").await;
    let app = serve(&f).await;
    let (outcomes, _) = poll(&app, "/plain-clock").await;
    let misses = outcomes.iter().filter(|o| *o == "MISS").count();
    assert!(misses >= 2, "{misses} misses in 6 s of a 2 s entry");
}

backend_matrix!(a_hot_key_never_misses, without_it_the_poll_misses_on_expiry);

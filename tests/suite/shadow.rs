//! Shadow mode, on every backend, over real HTTP: the handler answers a
//! counter that changes every second, on a route with `ttl = 10,
//! shadow = true`. Polled at 20 requests a second for 5 s, every answer
//! comes from the handler (none is a hit), the first finds no entry, the
//! answers within one second match the stored entry and the first after
//! each change diverges. The same handler without shadow mode serves hits,
//! and the builder's `shadow(true)` puts every route in shadow mode.

use crate::support;

use axum::{routing::get, Router};
use cache_runtime::{cached_route, route};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{Backend, Calls, Fixture, TestApp};

fn second() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_secs().to_string()
}

#[cached_route(ttl = 10, shadow = true)]
async fn shadowed() -> String {
    second()
}

#[cached_route(ttl = 10)]
async fn served() -> String {
    second()
}

async fn serve(f: &Fixture) -> TestApp {
    let router = Router::new()
        .route("/shadowed", get(shadowed))
        .route("/served", get(served))
        .layer(f.cache.layer());
    TestApp::serve(router, Calls::default()).await
}

/// Polls `path` at 20 requests a second for 5 s; the `x-cache` of each
/// answer, and how many carried the second they were answered in.
async fn poll(app: &TestApp, path: &str) -> (Vec<String>, usize) {
    let (mut outcomes, mut current) = (Vec::new(), 0);
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while start.elapsed() < Duration::from_secs(5) {
        tick.tick().await;
        let before = second();
        let reply = app.get(path).await;
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        if body == before || body == second() {
            current += 1;
        }
        outcomes.push(reply.x_cache().to_owned());
    }
    (outcomes, current)
}

async fn the_handler_answers_and_divergence_is_counted(backend: Backend) {
    let f = Fixture::new(backend, "shadow").await;
    let app = serve(&f).await;
    let (outcomes, current) = poll(&app, "/shadowed").await;
    let hits = outcomes.iter().filter(|o| *o == "HIT").count();
    assert_eq!(hits, 0, "{outcomes:?}");
    assert_eq!(current, outcomes.len(), "every answer is the handler's own");
    let stats = f.cache.stats();
    let route = stats
        .route::<route!(shadowed)>()
        .expect("the route's stats");
    let compared = route.shadow_matched + route.shadow_diverged + route.shadow_no_entry;
    assert_eq!(compared as usize, outcomes.len(), "{route:?}");
    assert_eq!(route.shadow_no_entry, 1, "{route:?}");
    // The counter changed four or five times in 5 s: each change is one
    // divergence (the fresh answer is stored, and the next ones match).
    assert!(
        (3..=7).contains(&route.shadow_diverged),
        "{route:?} over {} requests",
        outcomes.len()
    );
    assert!(
        route.shadow_matched >= route.shadow_diverged * 5,
        "{route:?}"
    );
    assert_eq!(route.hits, 0, "{route:?}");
}

/// The control: without shadow mode the same handler is served from the
/// cache, so its answers stop following the clock.
async fn without_it_the_route_serves_hits(backend: Backend) {
    let f = Fixture::new(backend, "shadow-off").await;
    let app = serve(&f).await;
    let (outcomes, current) = poll(&app, "/served").await;
    let hits = outcomes.iter().filter(|o| *o == "HIT").count();
    assert_eq!(hits, outcomes.len() - 1, "{outcomes:?}");
    assert!(
        current < outcomes.len() / 2,
        "{current} of {}",
        outcomes.len()
    );
}

/// `shadow(true)` on the builder covers routes that do not say so.
async fn the_builder_setting_covers_every_route(backend: Backend) {
    let f = Fixture::with(backend, "shadow-all", |b| b.shadow(true)).await;
    let app = serve(&f).await;
    for _ in 0..5 {
        let reply = app.get("/served").await;
        assert_eq!(reply.x_cache(), "MISS");
    }
    let stats = f.cache.stats();
    let route = stats.route::<route!(served)>().expect("the route's stats");
    assert_eq!(route.shadow_no_entry, 1, "{route:?}");
    assert_eq!(route.shadow_matched + route.shadow_diverged, 4, "{route:?}");
    assert_eq!(route.hits, 0, "{route:?}");
}

backend_matrix!(
    the_handler_answers_and_divergence_is_counted,
    without_it_the_route_serves_hits,
    the_builder_setting_covers_every_route,
);

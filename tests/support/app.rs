//! The cached handlers the integration tests exercise, one per behaviour,
//! each counting how often its body runs.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use cache_runtime::cached_route;
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// How many times each handler body ran.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<HashMap<&'static str, usize>>>);

impl Calls {
    /// Counts one run of handler `name`; returns the count so far.
    pub fn record(&self, name: &'static str) -> usize {
        let mut map = self.0.lock().unwrap();
        let n = map.entry(name).or_default();
        *n += 1;
        *n
    }

    /// Runs of handler `name` so far.
    pub fn get(&self, name: &str) -> usize {
        self.0.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Item {
    pub id: u64,
    pub name: String,
    /// Which run of the handler produced this body.
    pub run: usize,
}

/// An item; cached for an hour.
#[cached_route(ttl = 3600)]
pub async fn items(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<Item> {
    let run = calls.record("items");
    Json(Item {
        id,
        name: format!("item {id}"),
        run,
    })
}

/// Another handler at the same path in a second router: its entries must
/// never be confused with `items`'.
#[cached_route(ttl = 3600)]
pub async fn other_items(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<Item> {
    let run = calls.record("other_items");
    Json(Item {
        id,
        name: format!("other {id}"),
        run,
    })
}

#[cached_route(ttl = 1)]
pub async fn short(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<Item> {
    let run = calls.record("short");
    Json(Item {
        id,
        name: "short".into(),
        run,
    })
}

/// Echoes the query pairs in the order the handler received them.
#[cached_route(ttl = 3600)]
pub async fn search(
    State(calls): State<Calls>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let run = calls.record("search");
    Json(serde_json::json!({ "pairs": pairs, "run": run }))
}

#[cached_route(ttl = 3600)]
pub async fn status(
    State(calls): State<Calls>,
    Path(code): Path<u16>,
) -> (StatusCode, Json<usize>) {
    let run = calls.record("status");
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
        Json(run),
    )
}

pub struct AppError(&'static str);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.0).into_response()
    }
}

fn check(fail: bool) -> Result<(), AppError> {
    if fail {
        Err(AppError("it failed"))
    } else {
        Ok(())
    }
}

/// Uses `?` and an early `return`; both must still go through the cache.
#[cached_route(ttl = 3600)]
pub async fn fallible(
    State(calls): State<Calls>,
    Path(mode): Path<String>,
) -> Result<Json<usize>, AppError> {
    let run = calls.record("fallible");
    if mode == "early" {
        return Ok(Json(run + 1000));
    }
    check(mode == "fail")?;
    Ok(Json(run))
}

#[cached_route(ttl = 3600)]
pub async fn cookie(State(calls): State<Calls>) -> impl IntoResponse {
    let run = calls.record("cookie");
    ([(header::SET_COOKIE, "session=abc")], Json(run))
}

#[cached_route(ttl = 3600)]
pub async fn no_store(State(calls): State<Calls>) -> impl IntoResponse {
    let run = calls.record("no_store");
    ([(header::CACHE_CONTROL, "no-store")], Json(run))
}

/// Keeps its own headers on hits (the user agent it echoes is not keyed:
/// the first one is served to all).
#[cached_route(ttl = 3600, allow_unkeyed = true)]
pub async fn with_headers(State(calls): State<Calls>, headers: HeaderMap) -> impl IntoResponse {
    let run = calls.record("with_headers");
    let agent = headers.get(header::USER_AGENT).cloned();
    (
        StatusCode::NON_AUTHORITATIVE_INFORMATION,
        [
            ("x-run", run.to_string()),
            ("content-type", "text/plain; charset=utf-8".to_owned()),
        ],
        format!("run {run} agent {agent:?}"),
    )
}

/// A body of `n` bytes against a route limit of 1 KiB.
#[cached_route(ttl = 3600, max_body = 1024)]
pub async fn big(State(calls): State<Calls>, Path(n): Path<usize>) -> String {
    calls.record("big");
    "x".repeat(n)
}

/// Not a GET: never cached. A body extractor comes last.
#[cached_route(ttl = 3600)]
pub async fn echo(
    State(calls): State<Calls>,
    Json(value): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let run = calls.record("echo");
    Json(serde_json::json!({ "echo": value, "run": run }))
}

/// Varies on a request header the route does not key on: must not be stored.
#[cached_route(ttl = 3600)]
pub async fn unkeyed_vary(State(calls): State<Calls>) -> impl IntoResponse {
    let run = calls.record("unkeyed_vary");
    ([(header::VARY, "accept")], Json(run))
}

/// The router every test app serves.
pub fn router(calls: Calls) -> Router {
    Router::new()
        .route("/items/{id}", get(items))
        .route("/short/{id}", get(short))
        .route("/search", get(search))
        .route("/status/{code}", get(status))
        .route("/fallible/{mode}", get(fallible))
        .route("/cookie", get(cookie))
        .route("/no-store", get(no_store))
        .route("/with-headers", get(with_headers))
        .route("/big/{n}", get(big))
        .route("/echo", post(echo))
        .route("/unkeyed-vary", get(unkeyed_vary))
        .with_state(calls)
}

/// A second application whose `/items/{id}` is another handler.
pub fn other_router(calls: Calls) -> Router {
    Router::new()
        .route("/items/{id}", get(other_items))
        .with_state(calls)
}

/// The item routes mounted twice, under `/a` and `/b`.
pub fn nested_router(calls: Calls) -> Router {
    let inner = Router::new().route("/items/{id}", get(items));
    Router::new()
        .nest("/a", inner.clone())
        .nest("/b", inner)
        .with_state(calls)
}

/// The route id of a handler in this module, as the macro derives it.
pub fn route_id(handler: &str) -> String {
    format!("{}::{handler}", module_path!())
}

/// The key segment of a handler in this module: its keys start
/// `<prefix>:<key segment>:GET:`.
pub fn route_key(handler: &str) -> String {
    super::key_segment(&route_id(handler))
}

//! The code `#[cached_route]` generates is clean under `clippy::pedantic`:
//! CI runs `cargo clippy --all-targets -- -D warnings` over this file, which
//! denies the whole group for every canonical handler shape and option.
#![deny(clippy::pedantic)]

use axum::{
    extract::{Path, Query, State},
    http::{request::Parts, StatusCode},
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::collections::HashMap;

#[cached_route(ttl = 60)]
async fn plain(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

#[cached_route(ttl = "1h")]
async fn fallible(Path(id): Path<u64>) -> Result<Json<u64>, StatusCode> {
    if id == 0 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(Json(id))
}

#[cached_route(ttl = 60, query = ["page"], vary = ["accept-language"], namespace = "v1", max_body = 1024)]
async fn options(
    State(name): State<&'static str>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    (StatusCode::OK, Json((name, q.len())))
}

#[cached_route(ttl = 60, key = format!("item:{id}"))]
async fn keyed(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

fn tenant(parts: &Parts) -> String {
    parts.uri.path().to_owned()
}

#[cached_route(ttl = 60, key = tenant)]
async fn by_function() -> &'static str {
    "x"
}

#[cached_route(ttl = 60)]
async fn with_body(
    State(name): State<&'static str>,
    Json(body): Json<u32>,
) -> Json<(&'static str, u32)> {
    Json((name, body))
}

#[test]
fn handlers_register() {
    let _app: Router = Router::new()
        .route("/plain/{id}", get(plain))
        .route("/fallible/{id}", get(fallible))
        .route("/options", get(options))
        .route("/keyed/{id}", get(keyed))
        .route("/fn", get(by_function))
        .route("/body", post(with_body))
        .with_state("name")
        .layer(RouteCache::embedded().layer());
}

//! Shared pieces of the benchmark servers: the item every server returns,
//! and the hand-written Redis handler the cached routes are measured against.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::{sync::OnceLock, time::Duration};

/// The number in the environment variable `name`, when it holds one.
pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// What a miss costs: simulated work (a database query, say): 20 ms, or
/// `MISS_COST_MS` from the environment.
pub fn miss_cost() -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    *COST.get_or_init(|| Duration::from_millis(env_number("MISS_COST_MS").unwrap_or(20)))
}

/// A catalogue item, about 1 KB as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub price_cents: u64,
    pub tags: Vec<String>,
    pub description: String,
}

/// The item with id `id` (deterministic).
pub fn item(id: u64) -> Item {
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let mut description = String::with_capacity(900);
    let mut i = id as usize;
    while description.len() < 860 {
        description.push_str(words[i % words.len()]);
        description.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    Item {
        id,
        name: format!("Item number {id}"),
        price_cents: 100 + (id * 37) % 9_900,
        tags: vec![
            "catalogue".into(),
            format!("group-{}", id % 10),
            "benchmark".into(),
        ],
        description,
    }
}

/// A catalogue page: 100 items from `id * 100` on, about 97 KB as JSON
/// (the body of the compressed-entry scenario). Unlike [`item`]'s
/// eight-word descriptions, which gzip to 2 % of their size, these draw
/// from 256 words pseudo-randomly, so the page gzips to about 0.29 of its
/// size, as prose-heavy JSON does: the harder case for compressing on
/// every hit, and a conservative one for the stored bytes.
pub fn catalog(id: u64) -> Vec<Item> {
    (id * 100..id * 100 + 100).map(catalog_item).collect()
}

fn catalog_item(id: u64) -> Item {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fe", "go", "hu", "ja", "ki",
        "le",
    ];
    let mut state = id.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut description = String::with_capacity(900);
    while description.len() < 860 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let word = (state >> 33) % 256;
        let (a, b) = ((word / 16) as usize, (word % 16) as usize);
        for syllable in [a, b, (a + b) % 16] {
            description.push_str(SYLLABLES[syllable]);
        }
        description.push(' ');
    }
    description.pop();
    Item {
        description,
        ..item(id)
    }
}

/// A JSON array of catalogue items from `id * 10_000` on, cut to about
/// `bytes` (at least one item): the sized bodies of the cost curves, as
/// compressible as [`catalog`]'s.
pub fn sized_body(id: u64, bytes: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut next = id * 10_000;
    loop {
        let item = serde_json::to_vec(&catalog_item(next)).unwrap_or_default();
        if out.len() > 1 && out.len() + item.len() + 1 > bytes {
            break;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(&item);
        next += 1;
    }
    out.push(b']');
    out
}

/// The catalogue page after the simulated miss cost.
pub async fn load_catalog(id: u64) -> Vec<Item> {
    tokio::time::sleep(miss_cost()).await;
    catalog(id)
}

/// The item after the simulated miss cost.
pub async fn load_item(id: u64) -> Item {
    tokio::time::sleep(miss_cost()).await;
    item(id)
}

/// The `Content-Type` every server sends.
pub const JSON: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "application/json")];

/// A router serving `GET /items/{id}` with [`redis_get`] on the Redis at
/// `url`.
pub async fn redis_get_router(url: &str) -> axum::Router {
    // TCP_NODELAY, as the cache's own connections have: without it, a
    // Redis one hop away (the remote-redis scenario) makes concurrent
    // requests wait for each other's acknowledgements, and the baseline
    // would be slower than a careful hand-written handler.
    let info = redis::IntoConnectionInfo::into_connection_info(url)
        .expect("redis url")
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    let client = redis::Client::open(info).expect("redis url");
    let conn = redis::aio::ConnectionManager::new(client)
        .await
        .expect("connect to Redis");
    axum::Router::new()
        .route("/items/{id}", axum::routing::get(redis_get))
        .with_state(conn)
}

/// The floor cost of a Redis-backed hit: a hand-written handler doing one
/// `GET` through a `ConnectionManager` and returning the bytes (on a miss,
/// the item after its cost, stored with a one-hour expiry).
pub async fn redis_get(
    State(conn): State<redis::aio::ConnectionManager>,
    Path(id): Path<u64>,
) -> Response {
    let key = format!("bench:handwritten:{id}");
    let mut conn = conn.clone();
    let cached: Result<Option<Vec<u8>>, _> =
        redis::cmd("GET").arg(&key).query_async(&mut conn).await;
    if let Ok(Some(body)) = cached {
        return (JSON, Bytes::from(body)).into_response();
    }
    let body = serde_json::to_vec(&load_item(id).await).unwrap_or_default();
    let _: Result<(), _> = redis::cmd("SET")
        .arg(&key)
        .arg(&body)
        .arg("EX")
        .arg(3600)
        .exec_async(&mut conn)
        .await;
    (JSON, Bytes::from(body)).into_response()
}

static REDIS_URL: OnceLock<String> = OnceLock::new();

/// The Redis the `cached` crate's handler connects to (first call wins).
pub fn set_redis_url(url: &str) {
    let _ = REDIS_URL.set(url.to_owned());
}

#[cached::macros::concurrent_cached(
    map_error = r##"|e| format!("{e:?}")"##,
    ty = "cached::AsyncRedisCache<u64, Item>",
    create = r##" {
        cached::AsyncRedisCache::builder("bench-cached-crate")
            .ttl_secs(3600)
            .connection_string(REDIS_URL.get().map_or("redis://127.0.0.1:6379", String::as_str))
            .build()
            .await
            .expect("cached crate: connect to Redis")
    } "##
)]
async fn cached_crate_load(id: u64) -> Result<Item, String> {
    Ok(load_item(id).await)
}

/// The peer: the `cached` crate's Redis-backed async macro
/// (`concurrent_cached` with `AsyncRedisCache`) inside an axum handler.
pub async fn cached_crate_item(Path(id): Path<u64>) -> Result<Json<Item>, StatusCode> {
    cached_crate_load(id)
        .await
        .map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

/// What a benchmark serves: a router, or a router inside a cache's layer
/// (`CacheLayer` around the whole `Router`, one service per application).
pub enum App {
    Router(axum::Router),
    Around(cache_runtime::CacheService<axum::Router>),
}

impl App {
    /// `router` inside `cache`'s layer, finalised with `with_state(())`
    /// first, as `axum::serve` finalises a bare router on each connection:
    /// otherwise axum makes a route of every handler on every request.
    pub fn around(router: axum::Router, cache: &cache_runtime::RouteCache) -> Self {
        Self::Around(tower::Layer::layer(&cache.layer(), router.with_state(())))
    }
}

/// A body of `static-fields` and the header block it goes out with.
pub type FieldedBody = (Bytes, axum::http::HeaderMap);

/// `static-fields`: each body with the fields of a fresh cache hit, the
/// block cloned per response as a hit clones its remembered one.
async fn static_fields_item(
    State(items): State<std::sync::Arc<Vec<FieldedBody>>>,
    Path(id): Path<u64>,
) -> Response {
    match items.get(usize::try_from(id).unwrap_or(usize::MAX)) {
        Some(fielded) => respond(fielded.clone()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A body sent with its header block.
fn respond((body, headers): FieldedBody) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    *response.headers_mut() = headers;
    response
}

/// The header block a fresh hit on `body` sends (`#[cached_route]`'s
/// defaults, `ttl = 3600`), with values of the same lengths: those a hit
/// computes are shared copies here too, the constant ones static.
pub fn hit_fields(body: &Bytes) -> axum::http::HeaderMap {
    use axum::http::{header, HeaderValue};
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    let tag = hasher.finish();
    let shared = |text: &str| HeaderValue::from_str(text).expect("a valid field");
    let mut headers = axum::http::HeaderMap::with_capacity(10);
    headers.insert(header::CONTENT_TYPE, shared("application/json"));
    headers.insert(header::ETAG, shared(&format!("\"{tag:016x}{tag:016x}\"")));
    headers.insert(header::CACHE_CONTROL, shared("public, max-age=3600"));
    headers.insert(header::AGE, shared("0"));
    headers.insert(header::DATE, shared("Mon, 07 Dec 2026 06:53:09 GMT"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert("x-cache", HeaderValue::from_static("HIT"));
    headers.insert("cache-status", shared("route-cache; hit; ttl=3600"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers
}

/// `hand-cache`'s map: relative URI → body and header block.
pub type HandCache = std::sync::RwLock<std::collections::HashMap<String, FieldedBody>>;

/// `hand-cache`: the request's relative URI looked up in a locked map; a
/// miss computes the item and stores it.
async fn hand_cached(
    State(cache): State<std::sync::Arc<HandCache>>,
    uri: axum::http::Uri,
) -> Response {
    let key = uri.path_and_query().map_or("/", |target| target.as_str());
    let found = cache
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .cloned();
    respond(match found {
        Some(hit) => hit,
        None => {
            let Some(id) = key
                .strip_prefix("/items/")
                .and_then(|id| id.parse::<u64>().ok())
            else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let body = Bytes::from(serde_json::to_vec(&load_item(id).await).unwrap());
            let stored = (body.clone(), hit_fields(&body));
            cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.to_owned(), stored.clone());
            stored
        }
    })
}

/// The `static-fields` server: items `0..keys` precomputed, each with its
/// hit's header block ([`hit_fields`]).
pub fn static_fields_router(keys: u64) -> axum::Router {
    let items: Vec<FieldedBody> = (0..keys)
        .map(|id| {
            let body = Bytes::from(serde_json::to_vec(&item(id)).unwrap());
            let fields = hit_fields(&body);
            (body, fields)
        })
        .collect();
    axum::Router::new()
        .route("/items/{id}", axum::routing::get(static_fields_item))
        .with_state(std::sync::Arc::new(items))
}

/// The `hand-cache` server: a hand-written in-process cache in front of
/// [`load_item`]'s computation.
pub fn hand_cache_router() -> axum::Router {
    axum::Router::new()
        .route("/items/{id}", axum::routing::get(hand_cached))
        .with_state(std::sync::Arc::new(HandCache::default()))
}

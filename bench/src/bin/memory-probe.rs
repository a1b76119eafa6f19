//! What a cached entry costs in memory:
//! `memory-probe <backend> <entries> [body-bytes] [tag-shape]`.
//!
//! Fills `entries` distinct keys (`GET /items/{id}`, one tag each, through
//! the router in process) and prints one tab-separated line:
//!
//! - `redis` (`REDIS_URL`, flushed first: give it a Redis of its own): the
//!   growth of Redis `used_memory` per entry, split into entry bytes (the
//!   stored values and their keys) and index bytes (the path and tag index
//!   sets, read with `MEMORY USAGE`), and the mean stored value length;
//! - `embedded`: the growth of this process's resident memory per entry.
//!
//! The tag shape is `item` (the default: `item:{id}`, a set per entry, the
//! usual per-object tag), `shared` (every entry in the one tag `items`) or
//! `none` (no tag: the path index only).
//! Bodies are JSON items padded to `body-bytes` (default 1024) with hex
//! text, and the routes store them uncompressed, so the stored value is
//! about that size.

use axum::{body::Body, http::Request, routing::get, Router};
use cache_runtime::RouteCache;
use std::time::Instant;
use tower::ServiceExt;

static BODY_BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// A body of `BODY_BYTES` bytes for `id`, distinct per id (a 64-bit LCG
/// as hex).
fn body(id: u64) -> String {
    let size = *BODY_BYTES.get().unwrap_or(&1024);
    let mut out = format!("{{\"id\":{id},\"pad\":\"");
    let mut state = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() + 2 < size {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push_str(&format!("{:016x}", state));
    }
    out.truncate(
        size.saturating_sub(2)
            .max(out.find("\"pad\":\"").unwrap_or(0) + 7),
    );
    out.push_str("\"}");
    out
}

/// The handlers sit where an application's would, a few modules down:
/// their route ids (`memory_probe::app::routes::items::by_id`, 44 bytes)
/// are as long as a real service's. Uncompressed, so the stored value is
/// the body's size.
mod app {
    pub mod routes {
        pub mod items {
            use axum::extract::Path;
            use cache_runtime::cached_route;

            #[cached_route(ttl = 3600, tags = ["item:{id}"], compress = false)]
            pub async fn by_id(Path(id): Path<u64>) -> ([(&'static str, &'static str); 1], String) {
                ([("content-type", "application/json")], crate::body(id))
            }

            #[cached_route(ttl = 3600, compress = false)]
            pub async fn untagged(
                Path(id): Path<u64>,
            ) -> ([(&'static str, &'static str); 1], String) {
                ([("content-type", "application/json")], crate::body(id))
            }

            #[cached_route(ttl = 3600, tags = ["items"], compress = false)]
            pub async fn in_shared_tag(
                Path(id): Path<u64>,
            ) -> ([(&'static str, &'static str); 1], String) {
                ([("content-type", "application/json")], crate::body(id))
            }
        }
    }
}

/// This process's resident set size in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .expect("INFO memory");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// Sends `GET /items/{id}` for every id in `ids`, `concurrency` at a time.
async fn fill(app: &Router, ids: std::ops::Range<u64>, concurrency: u64) {
    let mut next = ids.start;
    while next < ids.end {
        let batch = next..(next + concurrency).min(ids.end);
        next = batch.end;
        let mut set = tokio::task::JoinSet::new();
        for id in batch {
            let app = app.clone();
            set.spawn(async move {
                let request = Request::get(format!("/items/{id}"))
                    .body(Body::empty())
                    .expect("request");
                let response = app.oneshot(request).await.expect("response");
                assert!(response.status().is_success(), "GET /items/{id}");
                let _ = http_body_util::BodyExt::collect(response.into_body()).await;
            });
        }
        while let Some(done) = set.join_next().await {
            done.expect("a request task");
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "redis".into());
    let entries: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let body_bytes: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1024);
    let shape = args.next().unwrap_or_else(|| "item".into());
    let _ = BODY_BYTES.set(body_bytes);
    let route = |router: Router| match shape.as_str() {
        "shared" => router.route("/items/{id}", get(app::routes::items::in_shared_tag)),
        "none" => router.route("/items/{id}", get(app::routes::items::untagged)),
        _ => router.route("/items/{id}", get(app::routes::items::by_id)),
    };
    let started = Instant::now();
    match backend.as_str() {
        "embedded" => {
            // Room for every entry: the figure is the cost of one, not the
            // eviction policy's.
            let capacity = (entries * (body_bytes as u64 + 1024)).max(64 << 20);
            let cache = RouteCache::builder()
                .embedded_capacity(capacity)
                .build()
                .await
                .expect("an embedded cache");
            let app = route(Router::new()).layer(cache.layer());
            // Warm the allocator and the runtime with entries outside the
            // measured range.
            fill(&app, 1 << 40..(1 << 40) + 1000, 64).await;
            let before = rss();
            fill(&app, 0..entries, 64).await;
            let after = rss();
            println!(
                "embedded\t{entries}\t{body_bytes}\t{shape}\trss_per_entry={:.0}\tsecs={:.1}",
                (after.saturating_sub(before)) as f64 / entries as f64,
                started.elapsed().as_secs_f64()
            );
        }
        _ => {
            let url =
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            let client = redis::Client::open(url.as_str()).expect("redis url");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("connect to Redis");
            let _: () = redis::cmd("FLUSHALL")
                .query_async(&mut conn)
                .await
                .expect("FLUSHALL");
            let cache = RouteCache::builder()
                .prefix("rc")
                .redis(url.as_str())
                .max_tag_members(usize::MAX)
                .build()
                .await
                .expect("connect to Redis");
            let app = route(Router::new()).layer(cache.layer());
            let before = used_memory(&mut conn).await;
            fill(&app, 0..entries, 64).await;
            let after = used_memory(&mut conn).await;
            let (entry_count, index_bytes, value_bytes) = sizes(&mut conn).await;
            let per_entry = (after.saturating_sub(before)) as f64 / entries as f64;
            let index_per_entry = index_bytes as f64 / entries as f64;
            let value_mean = value_bytes as f64 / entry_count.max(1) as f64;
            println!(
                "redis\t{entries}\t{body_bytes}\t{shape}\tstored={entry_count}\tused_per_entry={per_entry:.0}\t\
                 entry_part={:.0}\tindex_part={index_per_entry:.0}\tvalue_len={value_mean:.0}\t\
                 ratio={:.2}\tsecs={:.1}",
                per_entry - index_per_entry,
                per_entry / value_mean,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Entries stored, the `MEMORY USAGE` of every index set, and the total
/// length of the stored values, read with `SCAN`.
async fn sizes(conn: &mut redis::aio::MultiplexedConnection) -> (u64, u64, u64) {
    let mut cursor = 0u64;
    let (mut entries, mut index_bytes, mut value_bytes) = (0u64, 0u64, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .expect("SCAN");
        for key in keys {
            if key.contains(":#") {
                let usage: Option<u64> = redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(&key)
                    .arg("SAMPLES")
                    .arg(0)
                    .query_async(conn)
                    .await
                    .expect("MEMORY USAGE");
                index_bytes += usage.unwrap_or(0);
            } else {
                let len: u64 = redis::cmd("STRLEN")
                    .arg(&key)
                    .query_async(conn)
                    .await
                    .expect("STRLEN");
                entries += 1;
                value_bytes += len;
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    (entries, index_bytes, value_bytes)
}

//! A handler-level response cache for [axum](https://docs.rs/axum), backed by Redis or an
//! in-process store.
//!
//! Put `#[cached_route(ttl = …)]` on an async axum handler and install the
//! cache once with [`RouteCache::layer`]. A `GET` (or `HEAD`) to the route
//! is then answered from the cache when an entry exists, without running the
//! handler; otherwise the handler runs and a cacheable response is stored
//! for the route's TTL.
//!
//! ```
//! use axum::{extract::Path, routing::get, Json, Router};
//! use cache_runtime::{cached_route, RouteCache};
//!
//! #[derive(serde::Serialize)]
//! struct Item { id: u64 }
//!
//! /// One item; cached for an hour.
//! #[cached_route(ttl = 3600)]
//! async fn get_item(Path(id): Path<u64>) -> Json<Item> {
//!     Json(Item { id })
//! }
//!
//! # async fn run() {
//! let cache = RouteCache::from_env().await; // Redis if REDIS_URL is set
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(get_item))
//!     .layer(cache.layer());
//! # }
//! ```
//!
//! What is stored, and when:
//! - Only `GET` and `HEAD` requests use the cache (a `HEAD` shares the `GET`
//!   entry). The key is described in [`guide::formats`].
//! - A response is stored when its status is 200, 203 or 204 (or one the
//!   route's `negative` lists), it has no `Set-Cookie`, no
//!   `Cache-Control: no-store`, `private` or `no-cache`, no `Vary` on a
//!   header the key leaves out (`Vary: *` included),
//!   freshness left, and a body within the size limit (1 MiB by default).
//!   Everything else is returned with the cache's headers and not stored
//!   ([`guide::options`], [`guide::http`]).
//! - A hit returns the stored status, headers and body bytes as they were,
//!   plus `x-cache: HIT` and `Age`; a miss carries `x-cache: MISS`.
//! - The cache fails open: a backend error, timeout or undecodable value is
//!   logged through `tracing` (rate-limited) and the handler runs as if
//!   there were no cache.
//!
//! Backends and scale-out:
//! - [`RouteCache::embedded`]: in process (the default without Redis).
//! - [`RouteCacheBuilder::redis`] and [`RouteCacheBuilder::redis_cluster`]:
//!   standalone Redis or Redis Cluster, shared by every app instance, with
//!   a cross-instance lease so a missing entry is computed once.
//! - [`RouteCacheBuilder::l1_capacity`]: an in-process first tier in front
//!   of Redis, kept coherent across instances through Redis pub/sub (an
//!   overwrite or invalidation on any instance drops the entry from every
//!   L1 within the delivery delay; a lost channel or message flushes the
//!   L1).
//!
//! Invalidation: [`RouteCache::invalidate`] (one path, every route and
//! variant), [`RouteCache::invalidate_tag`] (route option `tags`),
//! [`RouteCache::invalidate_route`], [`RouteCache::invalidate_namespace`],
//! [`RouteCache::invalidate_all`], and [`invalidates`] on mutating
//! handlers; [`RouteCache::soft`] for the same calls marking entries stale
//! instead (served stale while one refresh recomputes each). A fill whose
//! handler ran while an invalidation named its entry stores nothing, so no
//! stale entry outlives an invalidation (race-free fills). An edge cache in
//! front of the app can be sent the routes' tags and purged along
//! ([`edge`]).
//!
//! Keys cover exactly what the handler can read (the table is in
//! [`cached_route`]): a handler reading only the path is keyed on neither
//! the host nor the query, so instances reached under different names or
//! ports share entries and junk parameters cannot bust the cache; one
//! reading the query only through `Query<T>` is keyed on the parameters `T`
//! deserializes; one the macro cannot see into (`HeaderMap`, `Request`, an
//! unknown extractor) is keyed on the host and the whole query, with a
//! compile-time warning for the headers it may read. Requests carrying
//! credentials never share an entry unless the route says how.
//!
//! # Reading the source
//!
//! For contributors: every module, by concept. No file depends on one that
//! depends on it back (`scripts/module-cycles.py`, run by CI), counting
//! imports and calls between a type's `impl` blocks in different files: a
//! type's methods may live with the concern they serve, as long as the
//! files stay in layers.
//!
//! | module | holds |
//! |---|---|
//! | `cache`, `builder`, `config`, `error`, `clock` | `RouteCache`, its shared state and the guarded call around every backend operation; the builder and `from_env`; settings and their defaults; error types; clocks and random ids |
//! | `policy`, `cached` | a route's compiled settings (`RoutePolicy`); the `CachedRoute` trait the macro implements |
//! | `key/` | request keys, the host rules (`key/host.rs`), the fields a `Query<T>` reads (`key/fields.rs`), credential digests (`key/secret.rs`), index and generation key names |
//! | `entry/` | the stored value's codec, and `Prepared`, a decoded entry ready to serve |
//! | `http/` | freshness (RFC 9111), header semantics and `Cache-Status`, the headers the cache sets on responses (`http/headers.rs`), content codings |
//! | `fill/` | `lookup.rs` (L1, then the store, and the save), `coalesce.rs` (one leader per key in process), `lease.rs` (across instances), `generation.rs` (race-free fills), `recent.rs` |
//! | `invalidate/` | by path, tag, route, namespace and everything, hard and soft (`soft.rs`), and the edge purge call |
//! | `edge` | the edge-cache tags and the `EdgePurge` trait |
//! | `resilience/` | the circuit breaker, retries, rate-limited fault logs |
//! | `store/` | the backend contract, the in-process store, Redis (standalone, Sentinel, Cluster), Lua scripts, TLS secrets, connection health, and the L1 tier with its pub/sub channel (`tier.rs`) |
//! | `observe/`, `stats` | metric handles, names and per-route tallies; the public snapshot |
//! | `axum/` | the adapter, the only module that names axum types: the layer (and the explain header), the hidden extractor, the request flow, shadow mode (`shadow.rs`), warm-up (`warm.rs`) and the admin API's router (`admin.rs`, `admin` feature) |
//! | `explain`, `token` | the routes' mount points the admin API explains URLs by; operator tokens, compared in constant time |
//!
//! Both paths read top to bottom from `axum/flow.rs`, whose module docs
//! list the steps: the hit path is `serve` → `start` → `Exchange::answer`
//! → `Exchange::hit` (`axum/respond.rs`); the miss path is
//! `Exchange::miss` → `coalesced_miss` → `compute` → `store_if_cacheable`
//! (`axum/storable.rs`) → `RouteCache::save` (`fill/lookup.rs`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
// Without the axum integration, parts of the hit/miss machinery are unused.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod axum;
mod builder;
mod cache;
mod cached;
mod clock;
pub mod config;
pub mod edge;
// The stored value's codec and the key builder: public for the fuzz
// targets and the tests, hidden, and no stable API (both formats are
// described in `guide::formats`).
#[doc(hidden)]
pub mod entry;
mod error;
#[cfg(feature = "admin")]
mod explain;
mod fill;
mod http;
mod invalidate;
#[doc(hidden)]
pub mod key;
mod observe;
mod policy;
mod resilience;
pub mod stats;

/// The guide: how the cache behaves and how to run it, chapter by chapter.
/// Every example here is compiled by `cargo test --doc`.
pub mod guide {
    #[doc = include_str!("../guide/options.md")]
    pub mod options {}
    #[doc = include_str!("../guide/http.md")]
    pub mod http {}
    #[doc = include_str!("../guide/resilience.md")]
    pub mod resilience {}
    #[doc = include_str!("../guide/production.md")]
    pub mod production {}
    #[doc = include_str!("../guide/distributed.md")]
    pub mod distributed {}
    #[doc = include_str!("../guide/observability.md")]
    pub mod observability {}
    #[doc = include_str!("../guide/formats.md")]
    pub mod formats {}
    #[doc = include_str!("../guide/testing.md")]
    pub mod testing {}
}
mod store;
mod token;

#[cfg(feature = "axum")]
pub use crate::axum::{CacheLayer, CacheService, WarmOutcome};
pub use crate::builder::RouteCacheBuilder;
pub use crate::cache::{Backend, RouteCache};
pub use crate::config::CacheConfig;
pub use crate::edge::{EdgePurge, EdgeTags};
pub use crate::error::{CacheError, ErrorKind, StoreError};
pub use crate::http::encoding::Encoding;
pub use crate::http::headers::X_CACHE;
pub use crate::invalidate::Soft;
pub use crate::stats::{BreakerState, CacheStats, RouteStats};
#[cfg(feature = "axum")]
pub use cache_macros::cached_route;

#[cfg(feature = "axum")]
pub use cache_macros::invalidates;

#[cfg(feature = "axum")]
pub use cache_macros::route;

/// Items used by the code `#[cached_route]` generates. Not a stable API:
/// anything here may change in any release.
///
/// The name carries this crate's version, and the macros (which
/// `cache-runtime` pins exactly) reach it by that name: generated code from
/// a `cache-macros` of another version fails to compile with "could not
/// find `__private_<its version>` in `cache_runtime`". Depend on
/// `cache-runtime` alone, which brings its own macros.
#[doc(hidden)]
pub mod __private_0_1_0 {
    #[cfg(feature = "axum")]
    pub use crate::axum::flow::{serve, serve_with};
    #[cfg(feature = "axum")]
    pub use crate::axum::{
        invalidate_after, path_segment, FromCacheParts, Invalidation, RequestContext, WithContext,
    };
    pub use crate::cached::CachedRoute;
    pub use crate::http::encoding::Encoding;
    #[cfg(feature = "axum")]
    pub use crate::key::fields::{learned_query, query_fields};
    pub use crate::key::QueryPolicy;
    pub use crate::observe::RouteSlot;
    pub use crate::policy::{key_part, AuthPolicy, KeySource, RoutePolicy};
    #[cfg(feature = "axum")]
    pub use ::axum::response::Response;
    pub use ::http::request::Parts;
    pub use ::std::option::Option;
    pub use ::std::string::{String, ToString};
    pub use ::std::sync::OnceLock;
    pub use ::std::vec::Vec;

    #[cfg(feature = "admin")]
    pub use crate::axum::registered;
    #[cfg(feature = "admin")]
    pub use crate::explain::RouteRegistration;
    pub use crate::register_route_0_1_0 as register_route;
    #[cfg(feature = "admin")]
    pub use ::inventory;

    /// Compile-time check that a handler's future is `Send`; the macro
    /// spans the call at the user's code so the error lands there.
    pub fn assert_send<T: ::core::marker::Send>(_: &T) {}
}

/// Adds a cached route to the registry the admin API lists (with the
/// `admin` feature; nothing without it). Used by the code
/// `#[cached_route]` generates.
#[cfg(feature = "admin")]
#[doc(hidden)]
#[macro_export]
macro_rules! register_route_0_1_0 {
    ($route:ty) => {
        $crate::__private_0_1_0::inventory::submit! {
            $crate::__private_0_1_0::registered::<$route>()
        }
    };
}

/// Without the `admin` feature there is no registry.
#[cfg(not(feature = "admin"))]
#[doc(hidden)]
#[macro_export]
macro_rules! register_route_0_1_0 {
    ($route:ty) => {};
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_private_module_carries_the_crate_version() {
        // `cache-macros` emits `__private_<its version>`; rename the module
        // with every version bump.
        assert_eq!(
            env!("CARGO_PKG_VERSION"),
            "0.1.0",
            "rename `__private_0_1_0` to the new version"
        );
    }
}

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
//!   entry). The key is described in [`key`].
//! - A response is stored when it is 2xx, has no `Set-Cookie`, no
//!   `Cache-Control: no-store`, `private` or `no-cache`, no `Vary: *`, and a
//!   body within the size limit (1 MiB by default). Everything else is
//!   returned unchanged and not stored.
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
//! handlers.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![deny(unreachable_pub)]
// Without the axum integration, parts of the hit/miss machinery are unused.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]
#![warn(missing_docs)]

// Module map. The cache handle and its setup:
// - `cache`: `RouteCache`, its constructors and raw-value calls;
// - `config` (settings, defaults, getters) and `builder` (`build`);
// - `error`: `StoreError` (with its `ErrorKind`) and `CacheError`.
// What a request does, in order:
// - `key`: the request's key; `policy`: the route's settings;
// - `axum`: the layer, the hidden extractor and the hit/miss flow (its
//   `flow` module maps both paths);
// - `lookup`: L1, then the store, and the save; `entry`: the stored
//   value's codec; `recent`: decodings of recent Redis values;
// - `call` (breaker and timeout around every backend call), `breaker`,
//   `retry` (the one timeout wrapper and retry loop), `fault` (rate-
//   limited logging, clocks);
// - `coalesce` (one computation per key in process), `lease` (across
//   instances);
// - `invalidate`: by path, tag, route, namespace, everything;
// - `store`: the backends (Redis, Redis Cluster, in process); `tier`: the
//   L1 and its pub/sub channel; `semantics`: HTTP header rules.
#[cfg(feature = "axum")]
mod axum;
mod breaker;
mod builder;
mod cache;
mod call;
mod coalesce;
pub mod config;
pub mod entry;
mod error;
mod fault;
mod invalidate;
pub mod key;
mod lease;
mod lookup;
mod policy;
mod recent;
mod retry;
mod semantics;
mod store;
mod tier;

#[cfg(feature = "axum")]
pub use crate::axum::{CacheLayer, CacheService, X_CACHE};
pub use crate::builder::RouteCacheBuilder;
pub use crate::cache::{
    Backend, RouteCache, DEFAULT_REDIS_URL, REDIS_CLUSTER_URLS_ENV, REDIS_URL_ENV,
};
pub use crate::config::CacheConfig;
pub use crate::error::{CacheError, ErrorKind, StoreError};
pub use crate::policy::{AuthPolicy, CachedRoute, KeySource, RoutePolicy};
/// Caches an async axum handler's successful responses.
///
/// ```
/// use axum::{extract::Path, Json};
/// use cache_runtime::cached_route;
///
/// #[cached_route(ttl = 3600)]
/// async fn get_item(Path(id): Path<u64>) -> Json<u64> {
///     Json(id)
/// }
/// ```
///
/// The handler keeps its name, visibility, docs and attributes and is
/// registered as usual (`get(get_item)`); the cache itself is installed once
/// with [`RouteCache::layer`]. The handler may take any axum extractors
/// (a body extractor last) and return anything that implements
/// `IntoResponse`. `return` and `?` in the body go through the cache logic.
/// Attributes below `#[cached_route]` stay on the handler axum calls, except
/// `#[tracing::instrument]`, which wraps the body (it then sees the original
/// parameters and records only runs of the body).
///
/// # Options
///
/// Written `name = value`, separated by commas. Only `ttl` is required.
///
/// ## `ttl`
/// How long entries live: whole seconds, or a string with one unit out of
/// `s`, `m`, `h`, `d`. Zero, negative, overflowing (more than `u32::MAX`
/// seconds), empty or unknown-unit values are compile errors.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 90)]
/// async fn a() -> &'static str { "a" }
///
/// #[cached_route(ttl = "10m")]
/// async fn b() -> &'static str { "b" }
/// ```
///
/// ## `key`
/// Replaces the path and query as what identifies an entry within the
/// route, written as Rust. An expression over the handler's bound
/// parameters (evaluated after extraction, with the parameters borrowed), or
/// a path to a function (or a closure) taking the request's
/// [`http::request::Parts`]. A bare name that the handler's parameters bind
/// is the parameter; any other path is a function. The value only needs to
/// implement `Display`; it is escaped into the key. In an expression the
/// parameters are borrowed (`id` is a `&u64` there): write `*id` or call
/// methods that take `&self` where a value is needed. A name in capitals
/// (`key = TENANT`) is a constant, not a function.
/// ```
/// # use cache_runtime::cached_route;
/// use axum::{extract::Path, http::request::Parts};
///
/// #[cached_route(ttl = 60, key = format!("item:{id}"))]
/// async fn by_expression(Path(id): Path<u64>) -> String { id.to_string() }
///
/// #[cached_route(ttl = 60, key = id)]
/// async fn by_parameter(Path(id): Path<u64>) -> String { id.to_string() }
///
/// fn tenant(parts: &Parts) -> String {
///     parts.headers.get("x-tenant").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
/// }
///
/// #[cached_route(ttl = 60, key = tenant)]
/// async fn by_function() -> &'static str { "x" }
/// ```
///
/// ## `query`
/// Which query parameters take part in the key: `all` (the default), `none`,
/// or an allow-list. Parameters left out do not split entries. Cannot be
/// combined with `key`.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 60, query = ["page", "limit"])]
/// async fn list() -> &'static str { "x" }
///
/// #[cached_route(ttl = 60, query = none)]
/// async fn fixed() -> &'static str { "x" }
/// ```
///
/// ## `vary`
/// Request headers whose values take part in the key, also sent in the
/// response's `Vary`. Credential headers (`authorization`, `cookie`) enter
/// the key only as a SHA-256 digest.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 60, vary = ["accept-language"])]
/// async fn localized() -> &'static str { "x" }
/// ```
///
/// ## `namespace` (or `prefix`)
/// A key-space segment for the route: change it (for example on a deploy
/// that changes the response shape) to start with no entries. Letters,
/// digits, `_`, `-` and `.`.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 60, namespace = "v2")]
/// async fn versioned() -> &'static str { "x" }
/// ```
///
/// ## `max_body`
/// The largest body stored for this route, in bytes, overriding the cache's
/// limit (1 MiB by default). Larger responses are returned but not stored.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 60, max_body = 65_536)]
/// async fn bounded() -> &'static str { "x" }
/// ```
///
/// ## `shared` and `private`
/// How requests carrying `Authorization` or `Cookie` are treated. By
/// default they are neither served from nor stored in a shared entry
/// (`Cache-Status: …; fwd=bypass; detail=authorization`), unless the route
/// keys on the credential (`vary = ["authorization"]`) or sets its own
/// `key`. `shared = true` declares that the response does not depend on the
/// user: one entry serves everyone. `private = true` keeps one entry per
/// user, keyed by a SHA-256 of the credentials (never the credentials), and
/// marks responses `Cache-Control: private`.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 3600, shared = true)]
/// async fn terms_of_service() -> &'static str { "…" }
///
/// #[cached_route(ttl = 60, private = true)]
/// async fn my_profile(headers: axum::http::HeaderMap) -> String { format!("{}", headers.len()) }
/// ```
///
/// ## `cache_control`
/// The `Cache-Control` sent with this route's cacheable responses when the
/// handler sets none, instead of `public, max-age=<remaining seconds>`.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 300, cache_control = "public, max-age=60, stale-while-revalidate=30")]
/// async fn feed() -> &'static str { "…" }
/// ```
///
/// ## `honor_client`
/// Whether a client's `Cache-Control: no-cache`/`max-age=0` (answer from
/// the handler, refresh the entry) and `no-store` (answer from the handler,
/// store nothing) are honoured on this route. Default: the cache's setting,
/// itself off by default, so that clients cannot force every request to the
/// origin.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 60, honor_client = true)]
/// async fn dashboard() -> &'static str { "…" }
/// ```
///
/// ## `stale` and `stale_if_error`
/// A window after the TTL during which an entry is still served, at once
/// (`x-cache: STALE`, `Cache-Status: …; hit; ttl=-N`), while one background
/// refresh per key (across instances, with Redis) recomputes it. The entry
/// is kept in the store for TTL + window. If the refresh fails with a 5xx,
/// the stale entry keeps being served (`stale_if_error`, default `true`);
/// with `stale_if_error = false`, or when the refresh answers something
/// that may not be stored, the entry is dropped. `stale = 0` turns the
/// cache-wide default (`RouteCacheBuilder::stale`) off for the route.
/// ```
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = "1m", stale = "10m")]
/// async fn prices() -> &'static str { "…" }
///
/// #[cached_route(ttl = 60, stale = 30, stale_if_error = false)]
/// async fn stock_level() -> &'static str { "…" }
/// ```
///
/// ## `tags`
/// Labels for [`RouteCache::invalidate_tag`] and `#[invalidates]`: format
/// strings over the handler's bound parameters (`"item:{id}"`), evaluated
/// per request. A stored entry is listed under each tag, so invalidating a
/// tag costs in proportion to the entries carrying it. A `{name}` the
/// handler does not bind is a compile error at the string.
/// ```
/// # use axum::{extract::Path, Json};
/// # use cache_runtime::cached_route;
/// #[cached_route(ttl = 3600, tags = ["item:{id}", "items"])]
/// async fn get_item(Path(id): Path<u64>) -> Json<u64> { Json(id) }
/// ```
///
/// # HTTP behaviour
///
/// Stored and hit responses carry `Cache-Control` (unless the handler set
/// its own), an `ETag` computed once from the body when stored (unless the
/// handler set one), `Age` on hits, `x-cache` and an RFC 9211
/// `Cache-Status`. A matching `If-None-Match` gets `304 Not Modified`. A
/// handler's own `max-age`/`s-maxage` shorter than the route TTL shortens
/// the entry's life.
///
/// # Generated code
///
/// A hidden marker type per handler carries the route's [`RoutePolicy`];
/// the first parameter's type is wrapped so the cache context is extracted
/// with it (a handler without parameters gets one); the original function
/// becomes an item inside the handler and its future is handed, unpolled,
/// to the runtime. Names starting with `__cached_route_` are reserved.
///
/// # Limits
///
/// - A route is identified by its module path and function name. Two
///   cached handlers with the same name in the same module (for example in
///   two function bodies) would share entries; keep cached handlers at
///   module level, or give them distinct names or `namespace`s.
/// - The handler must be a free function: associated functions (in an
///   `impl` block) and `Self` in the body are not supported.
/// - `#[utoipa::path]` goes above `#[cached_route]`, where it sees the
///   handler as written.
#[cfg(feature = "axum")]
pub use cache_macros::cached_route;

/// Invalidates cache entries after the handler returns a successful (2xx)
/// response: `tags` (as declared with `#[cached_route(tags = …)]`) and
/// `paths` (request paths, as [`RouteCache::invalidate`] takes them, matched
/// exactly: `/items` does not reach `/items?page=2`). Both
/// are format strings over the handler's bound parameters, like
/// `cached_route`'s `key`. The invalidation finishes before the response is
/// sent, so a client that reads after its write sees the new data, on every
/// instance (their L1s included). A failed invalidation is logged; the
/// response is unchanged.
///
/// ```
/// use axum::{extract::Path, routing::{get, put}, Json, Router};
/// use cache_runtime::{cached_route, invalidates, RouteCache};
///
/// #[cached_route(ttl = 3600, tags = ["item:{id}", "items"])]
/// async fn get_item(Path(id): Path<u64>) -> Json<u64> {
///     Json(id)
/// }
///
/// #[invalidates(tags = ["item:{id}"], paths = ["/items"])]
/// async fn update_item(Path(id): Path<u64>, Json(value): Json<u64>) -> Json<u64> {
///     Json(value) // … after writing it to the database
/// }
///
/// let cache = RouteCache::embedded();
/// let app: Router = Router::new()
///     .route("/items/{id}", get(get_item).put(update_item))
///     .layer(cache.layer());
/// ```
///
/// Misuse is a compile error at the offending token: an option other than
/// `tags`/`paths`, neither of them, or a `{name}` the handler does not bind.
#[cfg(feature = "axum")]
pub use cache_macros::invalidates;

/// Names the route of a `#[cached_route]` handler, for
/// [`RouteCache::invalidate_route`]: `route!(get_item)` or
/// `route!(handlers::get_item)`. A path that names no cached handler is a
/// compile error.
///
/// ```
/// use cache_runtime::{cached_route, route, RouteCache};
///
/// #[cached_route(ttl = 60)]
/// async fn list_items() -> &'static str { "[]" }
///
/// # async fn demo(cache: RouteCache) {
/// let removed = cache.invalidate_route::<route!(list_items)>().await;
/// # }
/// ```
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
    pub use crate::axum::{
        invalidate_after, serve, serve_with, FromCacheParts, Invalidation, RequestContext,
        WithContext,
    };
    pub use crate::key::QueryPolicy;
    pub use crate::policy::{AuthPolicy, CachedRoute, KeySource, RoutePolicy};
    #[cfg(feature = "axum")]
    pub use ::axum::response::Response;
    pub use ::http::request::Parts;
    pub use ::std::option::Option;
    pub use ::std::string::{String, ToString};
    pub use ::std::{format, vec};

    /// Compile-time check that a handler's future is `Send`; the macro
    /// spans the call at the user's code so the error lands there.
    pub fn assert_send<T: ::core::marker::Send>(_: &T) {}
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

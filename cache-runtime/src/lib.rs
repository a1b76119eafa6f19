//! A handler-level response cache for [axum], backed by Redis or an
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
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![deny(unreachable_pub)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod axum;
mod cache;
pub mod entry;
mod fault;
pub mod key;
mod policy;
pub mod store;

#[cfg(feature = "axum")]
pub use crate::axum::X_CACHE;
pub use crate::cache::{
    CacheConfig, CacheError, RouteCache, RouteCacheBuilder, DEFAULT_REDIS_URL, REDIS_URL_ENV,
};
pub use crate::policy::{CachedRoute, KeySource, RoutePolicy};
#[cfg(feature = "axum")]
pub use cache_macros::cached_route;

/// Items used by the code `#[cached_route]` generates. Not a stable API:
/// anything here may change in any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "axum")]
    pub use crate::axum::{serve, serve_with_key, RequestContext, WithContext};
    pub use crate::key::QueryPolicy;
    pub use crate::policy::{CachedRoute, KeySource, RoutePolicy};
    #[cfg(feature = "axum")]
    pub use ::axum::response::Response;
    pub use ::http::request::Parts;
    pub use ::std::option::Option;
    pub use ::std::string::{String, ToString};

    /// Compile-time check that a handler's future is `Send`; the macro
    /// spans the call at the user's code so the error lands there.
    pub fn assert_send<T: ::core::marker::Send>(_: &T) {}
}

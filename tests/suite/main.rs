//! The HTTP and backend tests, in one binary so that the harness
//! (`tests/support`) and the dependency graph are compiled and linked once.
//! Each module is one former test file; run one with
//! `cargo test --test suite <module>::`.
//!
//! Tests that change process-wide state stay in binaries of their own:
//! `observability` (the global metrics recorder and tracing subscriber),
//! `production_redis` (environment variables), and the macro snapshot
//! tests `expand` and `ui` (in `cache-macros`, for its short list of
//! dev-dependencies).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod admin;
mod api;
mod behaviour;
mod compiles;
mod compression;
mod distributed;
mod edge_purge;
mod example_metrics;
mod explain;
mod http_semantics;
mod invalidation;
mod key_model;
mod options;
mod pedantic;
mod query_keys;
mod race_fills;
mod redis_faults;
mod refresh_ahead;
mod resilience;
mod rfc9111;
mod round_trips;
mod sentinel;
mod shadow;
mod soft_purge;
mod warm;

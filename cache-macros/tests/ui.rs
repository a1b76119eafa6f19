//! Compile-fail tests: the diagnostics `#[cached_route]` and
//! `#[invalidates]` give (`tests/ui/fail`, one rule per file, with
//! `.stderr` snapshots). Regenerate them with
//! `TRYBUILD=overwrite cargo test -p cache-macros --test ui`. What they
//! accept is the workspace's `tests/suite/compiles.rs`, over `tests/ui/pass`.
//!
//! This test lives in `cache-macros` because trybuild builds its project
//! from the dev-dependencies of the package it runs in; this package's
//! are few.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}

//! Compile-fail tests: the diagnostics `#[cached_route]` and
//! `#[invalidates]` give (`tests/ui/fail`, one rule per file, with
//! `.stderr` snapshots). Regenerate them with
//! `TRYBUILD=overwrite cargo test --test ui`. What they accept is
//! `tests/compiles.rs`, over `tests/ui/pass`.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}

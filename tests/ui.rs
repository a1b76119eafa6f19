//! Compile tests: what `#[cached_route]` accepts (`tests/ui/pass`) and the
//! diagnostics it gives (`tests/ui/fail`, one rule per file, with `.stderr`
//! snapshots). Regenerate snapshots with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

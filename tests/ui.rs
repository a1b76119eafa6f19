//! Compile tests: what `#[cached_route]` accepts (`tests/ui/pass`) and the
//! diagnostics it gives (`tests/ui/fail`, one rule per file, with `.stderr`
//! snapshots). Regenerate snapshots with `TRYBUILD=overwrite cargo test --test ui`.

/// The two sets run apart: trybuild builds and links every test of a set
/// when the set has one that must run, and only checks a set that has
/// none, which is most of the time this test takes.
#[test]
fn ui() {
    {
        let fail = trybuild::TestCases::new();
        fail.compile_fail("tests/ui/fail/*.rs");
    }
    let pass = trybuild::TestCases::new();
    pass.pass("tests/ui/pass/*.rs");
}

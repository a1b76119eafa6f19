//! Expansion snapshots: `cargo expand` output of each canonical handler
//! shape and option, compared with the checked-in `tests/expand/*.expanded.rs`.
//!
//! Needs `cargo-expand` (the version `.ci/run` pins). Regenerate with
//! `MACROTEST=overwrite cargo test --test expand` and review the diff.

/// Inputs only: the snapshots (`*.expanded.rs`) end in `d.rs`. macrotest
/// numbers the generated crates (`macrotest000`, …) by position in this
/// glob, and that number shows in the expanded `module_path!()`, so the
/// snapshots must not take part in it. Input file names must not end in `d`.
const INPUTS: &str = "tests/expand/*[!d].rs";

#[test]
fn expansions_match_snapshots() {
    if std::env::var_os("MACROTEST").is_some_and(|v| v == "overwrite") {
        // Writes missing snapshots and overwrites changed ones.
        macrotest::expand(INPUTS);
    } else {
        // A missing snapshot is a failure, not a silent refresh.
        macrotest::expand_without_refresh(INPUTS);
    }
}

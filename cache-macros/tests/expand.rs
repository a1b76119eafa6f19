//! Expansion snapshots: `cargo expand` output of each canonical handler
//! shape and option, compared with the checked-in `tests/expand/*.expanded.rs`.
//!
//! Needs `cargo-expand` at [`CARGO_EXPAND_VERSION`] (`scripts/test.sh`
//! installs it). Regenerate with `MACROTEST=overwrite cargo test -p
//! cache-macros --test expand` and review the diff. Like `tests/ui.rs`, it
//! lives here for this package's short list of dev-dependencies, which
//! macrotest's project is built from.

/// The version the snapshots were made with; its output format changes
/// between versions. Keep in step with `scripts/test.sh`.
const CARGO_EXPAND_VERSION: &str = "1.0.127";

/// Inputs only: the snapshots (`*.expanded.rs`) end in `d.rs`. macrotest
/// numbers the generated crates (`macrotest000`, …) by position in this
/// glob, and that number shows in the expanded `module_path!()`, so the
/// snapshots must not take part in it. Input file names must not end in `d`.
const INPUTS: &str = "tests/expand/*[!d].rs";

/// Fails with one line saying how to install `cargo-expand` when it is
/// missing or another version, rather than one error per snapshot.
fn require_cargo_expand() {
    let install = format!(
        "run `cargo install cargo-expand --version {CARGO_EXPAND_VERSION} --locked` \
         (or scripts/test.sh, which installs it)"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["expand", "--version"])
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            assert!(
                version.split_whitespace().nth(1) == Some(CARGO_EXPAND_VERSION),
                "the expansion snapshots need cargo-expand {CARGO_EXPAND_VERSION}, found `{}`: {install}",
                version.trim()
            );
        }
        _ => panic!("the expansion snapshots need cargo-expand {CARGO_EXPAND_VERSION}, which is not installed: {install}"),
    }
}

#[test]
fn expansions_match_snapshots() {
    require_cargo_expand();
    if std::env::var_os("MACROTEST").is_some_and(|v| v == "overwrite") {
        // Writes missing snapshots and overwrites changed ones.
        macrotest::expand(INPUTS);
    } else {
        // A missing snapshot is a failure, not a silent refresh.
        macrotest::expand_without_refresh(INPUTS);
    }
}

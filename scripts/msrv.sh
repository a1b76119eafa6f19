#!/usr/bin/env bash
# The stated toolchain floor is true: `cargo +1.88 check` of every target,
# against the lockfile (which resolver "3" keeps to versions 1.88 builds).
# Installs 1.88 with rustup when it is missing; fails when it cannot.
#
#   scripts/msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
say() { echo "scripts/msrv.sh: $*" >&2; }
if ! rustup run "$MSRV" rustc --version >/dev/null 2>&1; then
    say "installing Rust $MSRV (the rust-version in Cargo.toml)"
    rustup toolchain install "$MSRV" --profile minimal || {
        say "could not install Rust $MSRV with rustup; the floor cannot be checked here"
        exit 1
    }
fi
cargo +"$MSRV" check --workspace --all-targets --locked --quiet --target-dir target/msrv
say "Rust $MSRV checks every target"

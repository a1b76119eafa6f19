#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, its own workspace, cache-runtime without
# default features) and, where a nightly toolchain is installed, runs each
# for FUZZ_SECONDS (default 60) through cargo-fuzz, failing on a crash.
# The seeds in fuzz/seeds/<target> are read, never written: new inputs go
# to a temporary corpus.
#
#   scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
targets=(entry_decode key_builder)
say() { echo "scripts/fuzz.sh: $*" >&2; }

# Always: the targets compile against today's cache-runtime.
cargo check -q --manifest-path fuzz/Cargo.toml --bins

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    say "no nightly toolchain: built the fuzz targets, not running them (rustup toolchain install nightly to run them)"
    exit 0
fi
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$corpus/$target"
    say "running $target for ${SECONDS_PER_TARGET}s"
    (cd fuzz && cargo +nightly fuzz run "$target" "$corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 2>"$corpus/$target.log") || {
        tail -40 "$corpus/$target.log" >&2
        say "$target FAILED"
        exit 1
    }
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$corpus/$target.log" | grep -Eo '[0-9]+$' || echo '?')
    say "$target: $runs executions in ${SECONDS_PER_TARGET}s, no crash"
done

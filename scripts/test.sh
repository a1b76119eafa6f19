#!/usr/bin/env bash
# The one test command: installs what a fresh machine lacks, then runs the
# whole suite.
#
#   scripts/test.sh [extra cargo test arguments]
#
# Installs, only when missing:
# - `redis-server` and `redis-cli`, through the platform's package manager
#   (apt-get on Debian/Ubuntu, with sudo when not root; Homebrew on macOS);
# - `cargo-expand` at the version the expansion snapshots were made with
#   (`cargo install --locked`, into $CARGO_HOME/bin).
# Then runs `cargo test --workspace --no-fail-fast`: unit, integration, doc,
# compile-fail (trybuild) and expansion (macrotest) tests. The integration tests
# start their own redis-server processes and a 3-master Redis Cluster on
# free loopback ports (or use the cluster REDIS_CLUSTER_URLS names).
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with cache-macros/tests/expand.rs, which checks the same version.
CARGO_EXPAND_VERSION=1.0.127

say() { echo "scripts/test.sh: $*" >&2; }

apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { say "need root or sudo to apt-get install $*"; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

install_redis() {
    if command -v apt-get >/dev/null 2>&1; then
        apt_install redis-server
        # The package may start a system service on 6379; the tests do not
        # use it (they start their own servers on free ports).
    elif command -v brew >/dev/null 2>&1; then
        brew install redis
    else
        say "redis-server is missing and neither apt-get nor brew is available; install Redis (redis-server, redis-cli) and re-run"
        exit 1
    fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    say "installing redis-server and redis-cli"
    install_redis
fi
redis-server --version
# `ss` shows the keepalive timers of the cache's sockets (Linux).
if [ "$(uname -s)" = Linux ] && ! command -v ss >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    say "installing iproute2 (ss)"
    apt_install iproute2
fi

# cargo installs binaries into $CARGO_HOME/bin (default ~/.cargo/bin); make
# sure both cargo's subcommand lookup and this script see it.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
expand_pid=""
if ! cargo expand --version 2>/dev/null | grep -q "cargo-expand $CARGO_EXPAND_VERSION\b"; then
    # Built alongside the test binaries: each build leaves cores idle
    # (linking, one large crate at the end) that the other fills.
    say "installing cargo-expand $CARGO_EXPAND_VERSION (alongside the test build)"
    # Unoptimised, in a third of the time: it expands a few dozen small
    # files, as fast either way (measured: 10.6 s both).
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install cargo-expand --version "$CARGO_EXPAND_VERSION" --locked --quiet &
    expand_pid=$!
    cargo test --workspace --no-run --quiet || true
    wait "$expand_pid" || { say "installing cargo-expand $CARGO_EXPAND_VERSION failed"; exit 1; }
fi
cargo expand --version

# The suite's tests mostly wait (on servers, timers and each other), not
# compute: four at a time on two cores finish in well under half the time
# of libtest's default (one per core). RUST_TEST_THREADS still wins.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
exec cargo test --workspace --no-fail-fast "$@"

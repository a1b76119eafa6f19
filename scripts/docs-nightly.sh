#!/usr/bin/env bash
# The docs as docs.rs builds them: nightly rustdoc, `--cfg docsrs` (which
# turns on the `doc_cfg` badges) and every feature, warnings denied. Where
# no nightly toolchain is installed this says so and passes: stable CI
# builds the docs without `docsrs` anyway.
#
#   scripts/docs-nightly.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustdoc --version >/dev/null 2>&1; then
    echo "scripts/docs-nightly.sh: no nightly toolchain; the docs.rs build is not checked here" >&2
    exit 0
fi
RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo +nightly doc --all-features --no-deps \
    -p cache-runtime -p cache-macros --target-dir target/docsrs --quiet
echo "scripts/docs-nightly.sh: the docs.rs build succeeds" >&2

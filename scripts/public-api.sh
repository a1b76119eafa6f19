#!/usr/bin/env bash
# The public API of cache-runtime against its checked-in list,
# cache-runtime/public-api.txt, so that a change to it shows in the diff.
# Needs nightly rustdoc (its JSON output); where no nightly is installed it
# says so and passes. `scripts/public-api.sh --bless` rewrites the list.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustdoc --version >/dev/null 2>&1; then
    echo "scripts/public-api.sh: no nightly toolchain; the public API list is not checked here" >&2
    exit 0
fi
# Every feature: items behind one (admin, tls) are API too.
cargo +nightly rustdoc -p cache-runtime --all-features --quiet --target-dir target/docjson \
    -- -Z unstable-options --output-format json
now=$(python3 scripts/public-api.py target/docjson/doc/cache_runtime.json)
if [ "${1:-}" = "--bless" ]; then
    printf '%s\n' "$now" > cache-runtime/public-api.txt
    echo "scripts/public-api.sh: $(printf '%s\n' "$now" | wc -l) items written" >&2
    exit 0
fi
if ! diff -u cache-runtime/public-api.txt <(printf '%s\n' "$now"); then
    echo "scripts/public-api.sh: the public API changed; review the diff, then run it with --bless" >&2
    exit 1
fi
count=$(printf '%s\n' "$now" | wc -l)
# The budget the API was cut to (issue 26): a new item must displace one.
if [ "$count" -gt 125 ]; then
    echo "scripts/public-api.sh: $count public items, over the budget of 125" >&2
    exit 1
fi
echo "scripts/public-api.sh: $count public items, as listed" >&2

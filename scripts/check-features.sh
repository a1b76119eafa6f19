#!/usr/bin/env bash
# Checks every combination of cache-runtime's features (the powerset of
# axum, gzip, brotli, zstd, tls and admin: 64 sets, of which those naming
# admin and not axum build the same as with it), so that trimming the
# default features never breaks the build. Warnings are denied.
#
#   scripts/check-features.sh
set -euo pipefail
cd "$(dirname "$0")/.."

features=(axum gzip brotli zstd tls admin)
n=${#features[@]}
failed=0
for ((mask = 0; mask < (1 << n); mask++)); do
    set_=()
    for ((i = 0; i < n; i++)); do
        if ((mask & (1 << i))); then set_+=("${features[i]}"); fi
    done
    list=$(IFS=,; echo "${set_[*]-}")
    echo "check-features: [${list}]" >&2
    if ! RUSTFLAGS="${RUSTFLAGS:-} -D warnings" cargo check -q -p cache-runtime \
        --no-default-features --features "$list" --target-dir target/features; then
        echo "check-features: FAILED for [${list}]" >&2
        failed=1
    fi
done
exit "$failed"

#!/usr/bin/env bash
# Instruction counts of the hit path (valgrind --tool=callgrind): repeatable
# on a noisy machine, unlike wall-clock figures. Runs N in-process requests
# through the router for a static handler and for a #[cached_route] hit on
# the embedded store, and prints instructions per request and their ratio.
#
#   bench/profile.sh            # N=20000
#   N=5000 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-20000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --bin hit-profile >&2
OUT=target/callgrind
mkdir -p "$OUT"
declare -A PER
for mode in static embedded; do
    total=$(valgrind --tool=callgrind --callgrind-out-file="$OUT/$mode" \
        target/release/hit-profile "$mode" "$N" 2>&1 | awk '/Collected/ {print $4}')
    PER[$mode]=$((total / (N + 1)))
    echo "$mode: $total instructions, ${PER[$mode]} per request" >&2
done
python3 -c "s, e = ${PER[static]}, ${PER[embedded]}; print(f'hit path: static {s} instr/req, embedded hit {e} instr/req, cache overhead {e - s} instr/req, ratio {s / e:.2f}')"
echo "profiles: callgrind_annotate --inclusive=yes bench/$OUT/embedded" >&2

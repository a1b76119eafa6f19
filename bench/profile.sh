#!/usr/bin/env bash
# Instruction counts of the hit path (valgrind --tool=callgrind): repeatable
# on a noisy machine, unlike wall-clock figures. Runs N in-process requests
# through the router for a static handler and a #[cached_route] hit on the
# embedded store, then for the hand-written Redis GET handler and a
# #[cached_route] hit on Redis, a hit on the L1 in front of Redis, and the
# cached crate's Redis-backed macro
# (REDIS_URL, default redis://127.0.0.1:6379), and prints instructions per
# request and each one's ratio to its baseline. The cached hits are served
# inside the cache's layer (cache.layer().layer(router)); the embedded hit
# and the static handler are measured again with the layer applied by
# Router::layer, which wraps every route. The static handler, the embedded
# hit and both Redis handlers are measured again with a browser's
# Accept-Encoding. Only the request loop
# (`hit_profile::requests`) is counted, so start-up (a recorder's clock
# calibration, connecting to Redis) is not spread over the requests. Then
# the embedded hit again with a Prometheus recorder installed, and the
# static and embedded ones with a browser's Accept-Encoding. Two more
# baselines split the embedded hit's cost: the static handler sending a
# fresh hit's fields (static-fields), and a hand-written in-process cache
# sending them (hand-cache: the relative URI looked up in a locked map).
#
#   bench/profile.sh            # N=20000
#   N=5000 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-20000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
# One codegen unit: how code is split across units otherwise moves the
# counts by up to 1 % between builds whose measured path is the same code.
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --release --bin hit-profile \
    --target-dir target/profile >&2
BIN=target/profile/release/hit-profile
OUT=target/callgrind
mkdir -p "$OUT"
declare -A PER
for mode in static static-fields hand-cache embedded static-route-layer embedded-route-layer redis-get redis two-tier cached-crate; do
    total=$(valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/$mode" \
        "$BIN" "$mode" "$N" 2>&1 | awk '/Collected/ {print $4}')
    PER[$mode]=$((total / (N + 1)))
    echo "$mode: $total instructions, ${PER[$mode]} per request" >&2
done
total=$(valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/embedded-explain" \
    "$BIN" embedded-explain "$N" 2>&1 | awk '/Collected/ {print $4}')
PER[embedded-explain]=$((total / (N + 1)))
echo "embedded with an explain header configured, not sent: $total instructions, ${PER[embedded-explain]} per request" >&2
total=$(RECORDER=prometheus valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/embedded-recorder" \
    "$BIN" embedded "$N" 2>&1 | awk '/Collected/ {print $4}')
PER[embedded-recorder]=$((total / (N + 1)))
echo "embedded with a Prometheus recorder: $total instructions, ${PER[embedded-recorder]} per request" >&2
total=$(ACCEPT_ENCODING="gzip, deflate, br, zstd" valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/embedded-accept" \
    "$BIN" embedded "$N" 2>&1 | awk '/Collected/ {print $4}')
PER[embedded-accept]=$((total / (N + 1)))
total=$(ACCEPT_ENCODING="gzip, deflate, br, zstd" valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/static-accept" \
    "$BIN" static "$N" 2>&1 | awk '/Collected/ {print $4}')
PER[static-accept]=$((total / (N + 1)))
for mode in redis-get redis; do
    total=$(ACCEPT_ENCODING="gzip, deflate, br, zstd" valgrind --tool=callgrind --toggle-collect='hit_profile::requests' --callgrind-out-file="$OUT/$mode-accept" \
        "$BIN" "$mode" "$N" 2>&1 | awk '/Collected/ {print $4}')
    PER[$mode-accept]=$((total / (N + 1)))
done
echo "with a browser's Accept-Encoding: static ${PER[static-accept]}, embedded ${PER[embedded-accept]}, redis-get ${PER[redis-get-accept]}, redis ${PER[redis-accept]} per request" >&2
ratio() { python3 -c "b, c = $2, $3; print(f'$1: baseline {b} instr/req, cached {c} instr/req, cache overhead {c - b} instr/req, ratio {b / c:.2f}')"; }
ratio "embedded hit vs static" "${PER[static]}" "${PER[embedded]}"
ratio "static handler sending the fields of a hit vs static" "${PER[static]}" "${PER[static-fields]}"
ratio "hand-written in-process cache vs static" "${PER[static]}" "${PER[hand-cache]}"
ratio "embedded hit vs hand-written in-process cache" "${PER[hand-cache]}" "${PER[embedded]}"
ratio "embedded hit through Router::layer vs static" "${PER[static]}" "${PER[embedded-route-layer]}"
ratio "static through Router::layer vs static" "${PER[static]}" "${PER[static-route-layer]}"
ratio "embedded hit vs static, both with Accept-Encoding" "${PER[static-accept]}" "${PER[embedded-accept]}"
ratio "embedded hit, recorder vs none" "${PER[embedded]}" "${PER[embedded-recorder]}"
ratio "embedded hit, explain header configured (not sent) vs none" "${PER[embedded]}" "${PER[embedded-explain]}"
ratio "two-tier hit (L1 + Redis) vs static" "${PER[static]}" "${PER[two-tier]}"
ratio "Redis hit vs hand-written GET" "${PER[redis-get]}" "${PER[redis]}"
ratio "Redis hit vs hand-written GET, both with Accept-Encoding" "${PER[redis-get-accept]}" "${PER[redis-accept]}"
ratio "cached crate vs hand-written GET" "${PER[redis-get]}" "${PER[cached-crate]}"
echo "profiles: callgrind_annotate --inclusive=yes bench/$OUT/embedded" >&2

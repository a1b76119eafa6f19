#!/usr/bin/env bash
# Cost curves: how a hit, a miss and memory grow with keys, body size and
# connections, against the static handler, nginx proxy_cache and Varnish,
# on the harness, pinning and peers of run.sh. Writes bench/results/curves.md.
#
# Sweeps (SWEEPS, default all five):
#   memory       bytes per live entry: Redis used_memory (entry and index
#                bytes) and the embedded store's resident memory, at 1 k,
#                100 k and 1 M entries of a ~1 KB body with one tag
#                (bench/src/bin/memory-probe.rs);
#   keys         1 k, 100 k and 1 M distinct keys, uniform and Zipf(1.0),
#                every server given CAPACITY bytes (64 MiB): the embedded
#                store, L1 (CAPACITY/4) + Redis and Redis (maxmemory
#                CAPACITY, allkeys-lru), nginx (max_size CAPACITY, a
#                keys_zone for CAPACITY/1 KB keys) and Varnish (malloc
#                CAPACITY); hit rate, req/s, p50, p99, server CPU per
#                request, and an ideal LRU's hit rate on the same trace
#                with the embedded store's bytes;
#   bodies       1 KB, 16 KB, 256 KB and 1 MB compressible JSON, 100 keys,
#                all hits, to identity and to gzip clients: the static
#                handler (the same bytes, precompressed for gzip clients),
#                the embedded store (storing gzip), nginx with `gzip on`
#                and Varnish storing gzip (beresp.do_gzip);
#   connections  32, 256 and 1024 connections of 1 KB hits: static,
#                embedded, L1 + Redis, nginx, Varnish;
#   mix          p50/p99 of 1 KB hits alone, then while 10 % of requests
#                are cold misses of 1 MB compressible bodies.
#
#   bench/curves.sh                        # about 25 minutes
#   SWEEPS="bodies" ROUNDS=1 bench/curves.sh
#
# The load generator is bench/src/bin/loadgen.rs (one thread, pinned to
# LOAD_CPU with redis-server and the origin behind the proxies); the
# server under test gets SERVER_CPU. Misses cost MISS_COST_MS (1 ms here:
# the key sweep's misses are many, and it measures the cache, not the
# simulated database). Each row is the median of ROUNDS interleaved runs.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib.sh
. ./lib.sh

DURATION=${DURATION:-6}
WARMUP=${WARMUP:-4}
ROUNDS=${ROUNDS:-2}
CAPACITY=${CAPACITY:-$((64 << 20))}
SWEEPS=${SWEEPS:-"memory keys bodies connections mix"}
KEY_COUNTS=${KEY_COUNTS:-"1000 100000 1000000"}
MEMORY_COUNTS=${MEMORY_COUNTS:-"1000 100000 1000000"}
BODY_SIZES=${BODY_SIZES:-"1000 16000 256000 1000000"}
CONNECTION_COUNTS=${CONNECTION_COUNTS:-"32 256 1024"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BUDGET=${BUDGET:-3600}
export MISS_COST_MS=${MISS_COST_MS:-1}

need curl curl
case " $SWEEPS " in *" keys "*|*" bodies "*|*" connections "*) need nginx nginx-light; need varnishd varnish ;; esac
command -v redis-server >/dev/null || { echo "redis-server is needed on PATH (scripts/test.sh installs it)" >&2; exit 1; }
ulimit -n 16384 2>/dev/null || true

cargo build --release --bin bench-server --bin loadgen --bin memory-probe >&2
BIN=target/release

WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
SERVER_PORT=$(free_port)
ORIGIN_PORT=$(free_port)
SERVER_PID=""
ORIGIN_PID=""
REDIS_PID=""
start_watchdog "$BUDGET" bench/curves.sh
trap 'cleanup; stop_watchdog' EXIT

RESULTS="$WORK/curves.jsonl"
: > "$RESULTS"
start_redis "$REDIS_PORT" "$WORK"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# start MODE [VAR=value...]: the server for MODE on SERVER_PORT with the
# environment given (for nginx and Varnish: NGINX_ZONE, NGINX_SIZE,
# NGINX_EXTRA, VARNISH_EXTRA, VARNISH_SIZE), answering before this returns.
start() {
    local mode=$1
    shift
    case "$mode" in
        nginx|varnish)
            env "$@" taskset -c "$LOAD_CPU" "$BIN/bench-server" origin "$ORIGIN_PORT" 2>"$WORK/origin.log" &
            ORIGIN_PID=$!
            local -A set=([NGINX_ZONE]=16m [NGINX_SIZE]=1g [NGINX_EXTRA]="" [VARNISH_EXTRA]="" [VARNISH_SIZE]=256m)
            local kv
            for kv in "$@"; do set[${kv%%=*}]=${kv#*=}; done
            if [ "$mode" = nginx ]; then
                rm -rf "$WORK/nginx"
                nginx_conf "$WORK/nginx" "$SERVER_PORT" "$ORIGIN_PORT" "${set[NGINX_ZONE]}" "${set[NGINX_SIZE]}" "${set[NGINX_EXTRA]}"
                taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/server.log" &
            else
                rm -rf "$WORK/varnish"
                varnish_vcl "$WORK/varnish.vcl" "$ORIGIN_PORT" "${set[VARNISH_EXTRA]}"
                taskset -c "$SERVER_CPU" varnishd -F -j none -a "127.0.0.1:$SERVER_PORT" -f "$WORK/varnish.vcl" \
                    -s "malloc,${set[VARNISH_SIZE]}" -n "$WORK/varnish" -p thread_pools=1 >"$WORK/server.log" 2>&1 &
            fi
            ;;
        *) env "$@" taskset -c "$SERVER_CPU" "$BIN/bench-server" "$mode" "$SERVER_PORT" "$REDIS_URL" 2>"$WORK/server.log" & ;;
    esac
    SERVER_PID=$!
    await_server "$mode" "$SERVER_PORT" 300 "$WORK/server.log"
}

stop() {
    stop_server_and_origin
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
}

# measure SWEEP POINT MODE ROUND LOADGEN-ARGS...: one loadgen run against
# the running server (whose CPU time loadgen reads over the measured
# seconds), one JSON line in RESULTS.
measure() {
    local sweep=$1 point=$2 mode=$3 round=$4 out
    shift 4
    out=$(taskset -c "$LOAD_CPU" "$BIN/loadgen" --addr "127.0.0.1:$SERVER_PORT" \
        --cpu-pid "$SERVER_PID" --clk-tck "$TICKS" "$@")
    python3 - "$sweep" "$point" "$mode" "$round" "$out" >> "$RESULTS" <<'PY'
import json, sys
sweep, point, mode, rnd, out = sys.argv[1:6]
row = json.loads(out)
row.update(sweep=sweep, point=point, mode=mode, round=int(rnd))
print(json.dumps(row))
PY
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-9s %-16s %-15s %8.0f req/s  hit %5.1f%%  p50 %7d us  p99 %7d us  cpu %6.1f us/req" % (r["sweep"], r["point"], r["mode"], r["rps"], 100*r["hit_rate"], r["p50_us"], r["p99_us"], r.get("cpu_us", 0)))' "$(tail -1 "$RESULTS")" >&2
}

sweep_memory() {
    local n backend line
    for n in $MEMORY_COUNTS; do
        for backend in redis embedded; do
            redis-cli -p "$REDIS_PORT" flushall >/dev/null
            line=$(REDIS_URL=$REDIS_URL "$BIN/memory-probe" "$backend" "$n" 1024 item)
            python3 -c 'import json, sys; print(json.dumps(dict(sweep="memory", point=sys.argv[1], mode=sys.argv[2], line=sys.argv[3])))' \
                "$n" "$backend" "$line" >> "$RESULTS"
            echo "  memory $n $backend: $line" >&2
        done
    done
}

sweep_keys() {
    local keys dist mode round zone
    # nginx's keys_zone: 1 MB holds about 8000 keys; room for one key per
    # KB of capacity.
    zone="$(( CAPACITY / 1024 / 8000 + 1 ))m"
    for round in $(seq "$ROUNDS"); do
        for keys in $KEY_COUNTS; do
            for dist in uniform zipf; do
                for mode in route-embedded route-two-tier route-redis nginx varnish; do
                    redis-cli -p "$REDIS_PORT" config set maxmemory "$CAPACITY" >/dev/null
                    redis-cli -p "$REDIS_PORT" config set maxmemory-policy allkeys-lru >/dev/null
                    start "$mode" EMBEDDED_CAPACITY="$CAPACITY" L1_CAPACITY=$((CAPACITY / 4)) \
                        NGINX_ZONE="$zone" NGINX_SIZE="$((CAPACITY >> 20))m" VARNISH_SIZE="$((CAPACITY >> 20))M"
                    local lru=()
                    [ "$mode" = route-embedded ] && lru=(--lru-bytes "$CAPACITY")
                    measure keys "$keys $dist" "$mode" "$round" --keys "$keys" --dist "$dist" \
                        --connections 32 --duration "$DURATION" --warmup "$WARMUP" "${lru[@]}"
                    stop
                    redis-cli -p "$REDIS_PORT" config set maxmemory 0 >/dev/null
                done
            done
        done
    done
}

sweep_bodies() {
    local size client mode round header
    for round in $(seq "$ROUNDS"); do
        for size in $BODY_SIZES; do
            for mode in static route-embedded nginx varnish; do
                # Room for the 100 entries and, for identity clients, their
                # decoded bodies (kept in an eighth of the capacity).
                start "$mode" BODY_BYTES="$size" STATIC_KEYS=100 EMBEDDED_CAPACITY=$((1536 << 20)) \
                    NGINX_EXTRA="gzip on; gzip_types application/json; gzip_min_length 1000; gzip_comp_level 6; gzip_proxied any;" \
                    VARNISH_EXTRA="set beresp.do_gzip = true;"
                for client in identity gzip; do
                    header=()
                    [ "$client" = gzip ] && header=(--header "Accept-Encoding: gzip")
                    measure bodies "$size $client" "$mode" "$round" --keys 100 --connections 32 \
                        --duration "$DURATION" --warmup 2 --prefill yes "${header[@]}"
                done
                stop
            done
        done
    done
}

sweep_connections() {
    local conns mode round
    for round in $(seq "$ROUNDS"); do
        for conns in $CONNECTION_COUNTS; do
            for mode in static route-embedded route-two-tier nginx varnish; do
                start "$mode"
                measure connections "$conns" "$mode" "$round" --keys 100 --connections "$conns" \
                    --duration "$DURATION" --warmup 2 --prefill yes
                stop
            done
        done
    done
}

sweep_mix() {
    local mode round
    for round in $(seq "$ROUNDS"); do
        for mode in route-embedded route-two-tier; do
            start "$mode" MISS_COST_MS=20
            measure mix "hits only" "$mode" "$round" --keys 100 --connections 32 --duration "$DURATION" \
                --warmup 2 --prefill yes
            measure mix "10% 1 MB misses" "$mode" "$round" --keys 100 --connections 32 \
                --duration "$DURATION" --warmup 2 --large 0.1 --seed "$round$RANDOM"
            stop
        done
    done
}

for sweep in $SWEEPS; do
    case "$sweep" in
        memory|keys|bodies|connections|mix) echo "sweep $sweep" >&2; "sweep_$sweep" ;;
        *) echo "unknown sweep $sweep; sweeps: memory keys bodies connections mix" >&2; exit 2 ;;
    esac
done

mkdir -p results
cp "$RESULTS" results/curves.jsonl   # the raw runs, to regenerate the report
python3 curves_report.py "$RESULTS" "$DURATION" "$WARMUP" "$ROUNDS" "$CAPACITY" "$MISS_COST_MS" > results/curves.md
cat results/curves.md

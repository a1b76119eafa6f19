#!/usr/bin/env bash
# Load benchmark: builds the benchmark servers in release mode, starts one
# dedicated redis-server on its own port, and runs wrk against each server
# on loopback, one after another and then interleaved, in three scenarios
# (all serve GET /items/{id}, ids cycling over 100, a miss costing 20 ms,
# a 1-hour TTL, all hits after warm-up):
#
#   1k            a ~1 KB JSON item: the static handler (1), a hand-written
#                 Redis GET handler (2), #[cached_route] on Redis, embedded
#                 and L1 + Redis, the `cached` crate, and nginx proxy_cache
#                 and Varnish in front of the uncached handler;
#   gzip-100k     a ~97 KB JSON catalogue page to a client sending
#                 Accept-Encoding: gzip: #[cached_route] storing it gzipped
#                 and serving it as stored, the same route storing it
#                 uncompressed under tower-http's CompressionLayer (which
#                 compresses every hit), and uncompressed;
#   remote-redis  the 1 KB item with Redis one hop away: a delaying proxy
#                 (REMOTE_DELAY ms each way, default 5) between the servers
#                 and redis-server.
#
# Prints a table per scenario (req/s, p50, p99, server CPU per request,
# bytes per response, paired ratios) and the targets, checks that every
# server in a scenario sent the same body, and writes it all to
# bench/results/latest.md (report: bench/report.py).
#
#   bench/run.sh                          # defaults: 6 s per run, 5 interleaved rounds
#   DURATION=5 ROUNDS=2 SCENARIOS=1k bench/run.sh
#
# Many short interleaved rounds rather than a few long ones: this kind of
# machine's speed drifts by tens of percent between minutes, and each ratio
# is the median of per-round pairs. nginx and Varnish are installed through
# apt-get when missing, and run, like every server, pinned to the server's
# core (all their processes); the uncached handler behind them, wrk,
# redis-server and the delaying proxy share the other core.
set -euo pipefail
cd "$(dirname "$0")"

DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-5}
REMOTE_ROUNDS=${REMOTE_ROUNDS:-3}
REMOTE_DELAY=${REMOTE_DELAY:-5}
CONNECTIONS=${CONNECTIONS:-32}
SCENARIOS=${SCENARIOS:-"1k gzip-100k remote-redis"}
MODES_1K=${MODES_1K:-"static redis-get route-redis route-embedded route-two-tier cached-crate nginx varnish"}
MODES_GZIP=${MODES_GZIP:-"catalog-route catalog-layer catalog-plain"}
MODES_REMOTE=${MODES_REMOTE:-"redis-get route-redis route-two-tier"}
SERVER_CPU=${SERVER_CPU:-0}   # the server gets one core, wrk and redis the other
LOAD_CPU=${LOAD_CPU:-1}
BUDGET=${BUDGET:-1800}         # seconds for the whole run

# shellcheck source=lib.sh
. ./lib.sh
need wrk wrk
case " $MODES_1K " in *" nginx "*) need nginx nginx-light ;; esac
case " $MODES_1K " in *" varnish "*) need varnishd varnish ;; esac
command -v redis-server >/dev/null || { echo "redis-server is needed on PATH (scripts/test.sh installs it)" >&2; exit 1; }

cargo build --release --bin bench-server --bin delay-proxy >&2
SERVER_BIN=target/release/bench-server

WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
SERVER_PORT=$(free_port)
ORIGIN_PORT=$(free_port)
PROXY_PORT=$(free_port)
SERVER_PID=""
ORIGIN_PID=""
REDIS_PID=""
PROXY_PID=""
# The whole run is bounded in time.
start_watchdog "$BUDGET" bench/run.sh
trap 'cleanup; stop_watchdog' EXIT

start_redis "$REDIS_PORT" "$WORK"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
taskset -c "$LOAD_CPU" target/release/delay-proxy "$PROXY_PORT" "127.0.0.1:$REDIS_PORT" "$REMOTE_DELAY" &
PROXY_PID=$!

ids_script "$WORK/ids.lua"

# The peers' configuration: a plain cache for 200s, one hour, in front of
# the uncached handler on ORIGIN_PORT, with keep-alive to it.
nginx_conf "$WORK/nginx" "$SERVER_PORT" "$ORIGIN_PORT" 16m 1g ""
varnish_vcl "$WORK/varnish.vcl" "$ORIGIN_PORT" ""

# to_us VALUE: wrk latency ("512.00us", "1.20ms", "1.01s") in microseconds.
to_us() {
    python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s)$", v)
print(round(float(m.group(1))*{"us":1,"ms":1000,"s":1e6}[m.group(2)],1) if m else "nan")' "$1"
}

# to_bytes VALUE: wrk's "34.56MB" in bytes.
to_bytes() {
    python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)([KMGT]?B)$", v)
print(round(float(m.group(1))*{"B":1,"KB":1<<10,"MB":1<<20,"GB":1<<30,"TB":1<<40}[m.group(2)]) if m else 0)' "$1"
}

# start_server MODE URL HEADER...: the server for MODE on SERVER_PORT (for
# nginx and varnish, with the uncached handler behind them), warmed up:
# every id once (misses), then a short burst (all hits after).
start_server() {
    local mode=$1 url=$2
    shift 2
    case "$mode" in
        nginx|varnish)
            taskset -c "$LOAD_CPU" "$SERVER_BIN" origin "$ORIGIN_PORT" 2>"$WORK/origin.log" &
            ORIGIN_PID=$!
            if [ "$mode" = nginx ]; then
                rm -rf "$WORK/nginx/cache"
                taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/server.log" &
            else
                taskset -c "$SERVER_CPU" varnishd -F -j none -a "127.0.0.1:$SERVER_PORT" -f "$WORK/varnish.vcl" \
                    -s malloc,256m -n "$WORK/varnish" -p thread_pools=1 >"$WORK/server.log" 2>&1 &
            fi
            ;;
        *) taskset -c "$SERVER_CPU" "$SERVER_BIN" "$mode" "$SERVER_PORT" "$url" 2>"$WORK/server.log" & ;;
    esac
    SERVER_PID=$!
    await_server "$mode" "$SERVER_PORT" 200 "$WORK/server.log" "$@"
    for id in $(seq 0 99); do curl -s -o /dev/null "$@" "http://127.0.0.1:$SERVER_PORT/items/$id"; done
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/ids.lua" "${WRK_HEADER[@]}" \
        "http://127.0.0.1:$SERVER_PORT" >/dev/null
}

RESULTS="$WORK/results.tsv"
BODIES="$WORK/bodies.tsv"
: > "$RESULTS"
: > "$BODIES"
# run_mode SCENARIO MODE URL: one measured wrk run.
run_mode() {
    local scenario=$1 mode=$2 url=$3 out before after requests
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    start_server "$mode" "$url" "${CURL_HEADER[@]}"
    # What the client gets, decoded: the same for every server of a scenario.
    printf '%s\t%s\t%s\n' "$scenario" "$mode" \
        "$(curl -s --compressed "${CURL_HEADER[@]}" "http://127.0.0.1:$SERVER_PORT/items/7" | sha256sum | cut -c1-16)" >> "$BODIES"
    before=$(cpu_ticks "$SERVER_PID")
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/ids.lua" \
        "${WRK_HEADER[@]}" "http://127.0.0.1:$SERVER_PORT")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server_and_origin
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    local rps p50 p99 cpu non2xx bytes
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(to_us "$(echo "$out" | awk '$1=="50%" {print $2}')")
    p99=$(to_us "$(echo "$out" | awk '$1=="99%" {print $2}')")
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    bytes=$(to_bytes "$(echo "$out" | awk '/requests in/ {print $5}')")
    cpu=$(python3 -c "print(round(($after-$before)/$TICKS*1e6/max($requests,1),2))")
    bytes=$(python3 -c "print(round($bytes/max($requests,1)))")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$mode" "$rps" "$p50" "$p99" "$cpu" "${non2xx:-0}" "$bytes" >> "$RESULTS"
    printf '  %-15s %10s req/s  p50 %8s us  p99 %8s us  cpu %6s us/req  %7s B/resp\n' \
        "$mode" "$rps" "$p50" "$p99" "$cpu" "$bytes" >&2
}

# run_scenario NAME ROUNDS URL MODES...: every mode once, then ROUNDS
# interleaved rounds.
run_scenario() {
    local name=$1 rounds=$2 url=$3 mode round
    shift 3
    echo "scenario $name: sequential runs (${DURATION}s each)" >&2
    for mode in "$@"; do run_mode "$name" "$mode" "$url"; done
    for round in $(seq "$rounds"); do
        echo "scenario $name: interleaved round $round" >&2
        for mode in "$@"; do run_mode "$name" "$mode" "$url"; done
    done
}

for scenario in $SCENARIOS; do
    CURL_HEADER=()
    WRK_HEADER=()
    case "$scenario" in
        1k) run_scenario 1k "$ROUNDS" "$REDIS_URL" $MODES_1K ;;
        gzip-100k)
            CURL_HEADER=(-H "Accept-Encoding: gzip")
            WRK_HEADER=(-H "Accept-Encoding: gzip")
            run_scenario gzip-100k "$ROUNDS" "$REDIS_URL" $MODES_GZIP
            ;;
        remote-redis) run_scenario remote-redis "$REMOTE_ROUNDS" "redis://127.0.0.1:$PROXY_PORT" $MODES_REMOTE ;;
        *) echo "unknown scenario $scenario; scenarios: 1k gzip-100k remote-redis" >&2; exit 2 ;;
    esac
done

mkdir -p results
python3 report.py "$RESULTS" "$BODIES" "$DURATION" "$ROUNDS" "$REMOTE_ROUNDS" "$CONNECTIONS" "$REMOTE_DELAY" \
    > results/latest.md
cat results/latest.md

#!/usr/bin/env bash
# Paired load runs: a server and its baseline serving at the same time.
#
# bench/run.sh runs one server at a time, and this kind of machine's speed
# drifts by tens of percent between seconds: single rounds' ratios of a
# hit to the static handler range from 0.62 to 1.12, so the median of a
# few rounds cannot settle a target a few percent wide. Here the baseline
# (B) and the server measured (S) run together, pinned to the same core,
# each with its own wrk (-t1 -c32) on the other core, for DURATION
# seconds, REPS times. Whatever slows the machine slows both alike, and
# the scheduler gives each about half the core, so the ratio of their
# requests follows the inverse ratio of their CPU per request (both
# servers and both wrk processes near their cores' limits, the CPU ratio
# is the steadier of the two). Both are reported per rep: req/s
# (S over B) and CPU per request (B over S, from /proc, user + system),
# then the median and range. A baseline paired with itself comes first, as
# the control: its ratios show the method's own spread (about ±1 %).
#
# Each pair is "BASELINE:SERVER" in bench-server's modes (static-layered:
# the static handler inside a cache's layer, which answers none of its
# requests: what the layer costs the rest of an application; static-fields:
# the static handler sending the fields a hit sends, so that static against
# static-fields is what the fields cost and static-fields against a hit is
# the route's own work; hand-cache: a hand-written in-process cache sending
# the same fields, the floor of a keyed in-process hit); the servers get
# a dedicated redis-server (for the Redis-backed modes), are warmed up
# with every id (misses) and 2 s of hits, and serve GET /items/{id}, ids
# cycling over 100, as in run.sh's 1k scenario. Prints a table and writes
# bench/results/paired.md.
#
#   bench/paired.sh                      # 5 s runs, 8 reps per pair
#   DURATION=3 REPS=3 PAIRS="static:route-embedded" bench/paired.sh
set -euo pipefail
cd "$(dirname "$0")"

DURATION=${DURATION:-5}
REPS=${REPS:-8}
PAIRS=${PAIRS:-"static:static static:static-layered static:static-fields static:hand-cache static:route-embedded static-fields:route-embedded hand-cache:route-embedded static:route-two-tier redis-get:route-redis"}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BUDGET=${BUDGET:-1200}
OUT=${OUT:-results/paired.md}

# shellcheck source=lib.sh
. ./lib.sh
need wrk wrk
command -v redis-server >/dev/null || { echo "redis-server is needed on PATH (scripts/test.sh installs it)" >&2; exit 1; }

cargo build --release --bin bench-server >&2
SERVER_BIN=target/release/bench-server

WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
BASE_PID=""
SERVER_PID=""
REDIS_PID=""
start_watchdog "$BUDGET" bench/paired.sh
trap 'kill $BASE_PID 2>/dev/null || true; cleanup; stop_watchdog' EXIT
start_redis "$REDIS_PORT" "$WORK"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

ids_script "$WORK/ids.lua"

# serve MODE PORT: a bench-server on the server core, warmed up with every
# id once; sets SERVED_PID.
serve() {
    taskset -c "$SERVER_CPU" "$SERVER_BIN" "$1" "$2" "$REDIS_URL" >/dev/null 2>>"$WORK/server.log" &
    SERVED_PID=$!
    await_server "bench-server $1" "$2" 200 "$WORK/server.log"
    for id in $(seq 0 99); do curl -s -o /dev/null "http://127.0.0.1:$2/items/$id"; done
}

# load PORT SECONDS FILE: wrk against PORT from the load core, in the
# background; sets LOAD_PID.
load() {
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${2}s" -s "$WORK/ids.lua" \
        "http://127.0.0.1:$1" >"$3" &
    LOAD_PID=$!
}

# requests FILE: the requests a wrk run made; fails the run when any
# answer was not 2xx or 3xx, or none came.
requests() {
    if grep -q "Non-2xx" "$1" || ! grep -q "requests in" "$1"; then
        echo "bench/paired.sh: a load run failed:" >&2
        cat "$1" >&2
        exit 1
    fi
    awk '/requests in/ {print $1}' "$1"
}

RESULTS="$WORK/paired.tsv"
: > "$RESULTS"
for pair in $PAIRS; do
    base=${pair%%:*}
    mode=${pair#*:}
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    base_port=$(free_port)
    port=$(free_port)
    serve "$base" "$base_port"
    BASE_PID=$SERVED_PID
    serve "$mode" "$port"
    SERVER_PID=$SERVED_PID
    # Warm-up: both at once, as measured.
    load "$base_port" 2 /dev/null
    warm=$LOAD_PID
    load "$port" 2 /dev/null
    wait "$warm" "$LOAD_PID"
    echo "pair $base : $mode" >&2
    for rep in $(seq "$REPS"); do
        base_before=$(cpu_ticks "$BASE_PID")
        before=$(cpu_ticks "$SERVER_PID")
        # The two loads start a few milliseconds apart, and which one
        # starts first alternates: a fixed order could favour one server.
        if [ $((rep % 2)) = 1 ]; then
            load "$base_port" "$DURATION" "$WORK/base.out"
            first=$LOAD_PID
            load "$port" "$DURATION" "$WORK/server.out"
        else
            load "$port" "$DURATION" "$WORK/server.out"
            first=$LOAD_PID
            load "$base_port" "$DURATION" "$WORK/base.out"
        fi
        wait "$first" "$LOAD_PID"
        base_after=$(cpu_ticks "$BASE_PID")
        after=$(cpu_ticks "$SERVER_PID")
        base_requests=$(requests "$WORK/base.out")
        server_requests=$(requests "$WORK/server.out")
        line=$(python3 -c "
b, s = $base_requests, $server_requests
bc, sc = ($base_after - $base_before) / $TICKS * 1e6 / max(b, 1), ($after - $before) / $TICKS * 1e6 / max(s, 1)
print(f'$base\t$mode\t$rep\t{b / $DURATION:.0f}\t{s / $DURATION:.0f}\t{bc:.2f}\t{sc:.2f}')")
        printf '%s\n' "$line" >> "$RESULTS"
        printf '  rep %s: %s\n' "$rep" "$(echo "$line" | cut -f4-)" >&2
    done
    kill "$BASE_PID" "$SERVER_PID" 2>/dev/null || true
    wait "$BASE_PID" "$SERVER_PID" 2>/dev/null || true
    BASE_PID=""
    SERVER_PID=""
done

python3 - "$RESULTS" "$DURATION" "$REPS" "$CONNECTIONS" > "$OUT" <<'PY'
import datetime, platform, statistics, subprocess, sys
results, duration, reps, conns = sys.argv[1:5]
NAMES = {
    "static": "static axum handler",
    "static-layered": "static handler inside the cache's layer",
    "static-fields": "static handler sending a hit's fields",
    "hand-cache": "hand-written in-process cache",
    "redis-get": "hand-written Redis GET",
    "route-embedded": "#[cached_route], embedded",
    "route-two-tier": "#[cached_route], L1 + Redis",
    "route-redis": "#[cached_route], Redis",
}
pairs = {}
for line in open(results):
    base, mode, _, brps, srps, bcpu, scpu = line.rstrip("\n").split("\t")
    pairs.setdefault((base, mode), []).append((float(brps), float(srps), float(bcpu), float(scpu)))
try:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "")
except OSError:
    model = ""
print("# Paired load runs\n")
print(f"Written by `bench/paired.sh` on {datetime.date.today()} ({platform.machine()} {model}). "
      f"Baseline and server run at the same time on one core, each loaded by its own "
      f"wrk -t1 -c{conns} on the other core, {duration} s per rep, {reps} reps per pair; "
      "GET /items/{id}, ids cycling over 100, all hits. Ratios are per rep, then their "
      "median and range: req/s of the server over the baseline's, and the baseline's "
      "CPU per request over the server's (1.00: as cheap as the baseline). The first "
      "pair, a baseline against itself, shows the method's own spread.\n")
print("| baseline | server | baseline req/s | server req/s | req/s ratio | range | CPU µs/req (baseline, server) | CPU ratio | range |")
print("|---|---|---:|---:|---:|---|---|---:|---|")
for (base, mode), runs in pairs.items():
    rps = [s / b for b, s, _, _ in runs]
    cpu = [bc / sc for _, _, bc, sc in runs]
    print(f"| {NAMES.get(base, base)} | {NAMES.get(mode, mode)} "
          f"| {statistics.median(r[0] for r in runs):,.0f} | {statistics.median(r[1] for r in runs):,.0f} "
          f"| **{statistics.median(rps):.3f}** | {min(rps):.3f}–{max(rps):.3f} "
          f"| {statistics.median(r[2] for r in runs):.2f}, {statistics.median(r[3] for r in runs):.2f} "
          f"| **{statistics.median(cpu):.3f}** | {min(cpu):.3f}–{max(cpu):.3f} |")
PY
cat "$OUT"

#!/usr/bin/env bash
# Load benchmark: builds the benchmark server in release mode, starts one
# dedicated redis-server on its own port, and runs wrk against each server
# mode on loopback, one after another and then interleaved, all serving
# GET /items/{id} (a ~1 KB JSON item; a miss costs 20 ms; 1-hour TTL; ids
# cycling over 100, all hits after warm-up). Prints a table of req/s, p50,
# p99 and server CPU per request, with ratios to the static handler (1) and
# the hand-written Redis GET handler (2), and writes it to
# bench/results/latest.md.
#
#   bench/run.sh                  # defaults: 6 s per run, 5 interleaved rounds
#   DURATION=5 ROUNDS=2 bench/run.sh
#
# Many short interleaved rounds rather than a few long ones: this kind of
# machine's speed drifts by tens of percent between minutes, and each ratio
# is the median of per-round pairs.
set -euo pipefail
cd "$(dirname "$0")"

DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-32}
MODES=${MODES:-"static redis-get route-redis route-embedded route-two-tier cached-crate"}
SERVER_CPU=${SERVER_CPU:-0}   # the server gets one core, wrk and redis the other
LOAD_CPU=${LOAD_CPU:-1}
BUDGET=${BUDGET:-1200}         # seconds for the whole run

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk" >&2
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
command -v redis-server >/dev/null || { echo "redis-server is needed on PATH" >&2; exit 1; }

cargo build --release --bin bench-server >&2
SERVER_BIN=target/release/bench-server

WORK=$(mktemp -d)
REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SERVER_PID=""
REDIS_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
# The whole run is bounded in time.
( sleep "$BUDGET" >/dev/null 2>&1; echo "bench/run.sh: time budget of ${BUDGET}s exhausted" >&2; kill -TERM $$ ) &
WATCHDOG=$!
disown "$WATCHDOG"   # stopped quietly on exit, without a "Terminated" line
trap 'cleanup; pkill -P $WATCHDOG 2>/dev/null || true; kill $WATCHDOG 2>/dev/null || true' EXIT

taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

cat > "$WORK/ids.lua" <<'LUA'
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/items/" .. (counter % 100))
end
LUA

# cpu_ticks PID: user + system clock ticks of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# to_us VALUE: wrk latency ("512.00us", "1.20ms", "1.01s") in microseconds.
to_us() {
    python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s)$", v)
print(round(float(m.group(1))*{"us":1,"ms":1000,"s":1e6}[m.group(2)],1) if m else "nan")' "$1"
}

start_server() {
    taskset -c "$SERVER_CPU" "$SERVER_BIN" "$1" "$SERVER_PORT" "$REDIS_URL" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$SERVER_PORT/items/0" && break
        sleep 0.05
    done
    # Warm-up: every id once (misses), then a short burst (all hits after).
    for id in $(seq 0 99); do curl -s -o /dev/null "http://127.0.0.1:$SERVER_PORT/items/$id"; done
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/ids.lua" "http://127.0.0.1:$SERVER_PORT" >/dev/null
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
run_mode() {
    local mode=$1 out before after requests
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    start_server "$mode"
    before=$(cpu_ticks "$SERVER_PID")
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/ids.lua" \
        "http://127.0.0.1:$SERVER_PORT")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    local rps p50 p99 cpu non2xx
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(to_us "$(echo "$out" | awk '$1=="50%" {print $2}')")
    p99=$(to_us "$(echo "$out" | awk '$1=="99%" {print $2}')")
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
    cpu=$(python3 -c "print(round(($after-$before)/$TICKS*1e6/max($requests,1),2))")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rps" "$p50" "$p99" "$cpu" "${non2xx:-0}" >> "$RESULTS"
    printf '  %-15s %10s req/s  p50 %8s us  p99 %8s us  cpu %6s us/req\n' "$mode" "$rps" "$p50" "$p99" "$cpu" >&2
}

echo "sequential runs (${DURATION}s each)" >&2
for mode in $MODES; do run_mode "$mode"; done
for round in $(seq "$ROUNDS"); do
    echo "interleaved round $round" >&2
    for mode in $MODES; do run_mode "$mode"; done
done

mkdir -p results
python3 - "$RESULTS" "$DURATION" "$ROUNDS" "$CONNECTIONS" > results/latest.md <<'PY'
import sys, statistics, platform, subprocess, datetime
path, duration, rounds, conns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = {}
for line in open(path):
    mode, rps, p50, p99, cpu, non2xx = line.rstrip("\n").split("\t")
    rows.setdefault(mode, []).append((float(rps), float(p50), float(p99), float(cpu), int(non2xx or 0)))
med = {m: [statistics.median(v[i] for v in runs) for i in range(4)] + [sum(v[4] for v in runs)] for m, runs in rows.items()}
# Paired ratios: run i of a server against run i of the baseline (run
# back to back in the same round), then the median. Steadier than a ratio
# of medians when the machine's speed drifts between rounds.
def paired(mode, base, field):
    if mode not in rows or base not in rows:
        return None
    pairs = zip(rows[mode], rows[base])
    return statistics.median(a[field] / b[field] for a, b in pairs if b[field] > 0)
names = {
    "static": "(1) static axum handler",
    "redis-get": "(2) hand-written Redis GET",
    "route-redis": "(3) #[cached_route], Redis",
    "route-embedded": "(4) #[cached_route], embedded",
    "route-two-tier": "(4) #[cached_route], L1 + Redis",
    "cached-crate": "(5) cached crate, AsyncRedisCache",
}
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Load benchmark, {datetime.date.today()}, {platform.machine()} {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; "
      f"server pinned to one core, wrk and redis-server to the other; wrk -t1 -c{conns}, {duration} s per run, "
      f"1 sequential + {rounds} interleaved runs per server, medians shown.\n")
print("Ratios are medians of per-round paired ratios (each run against the baseline run of the same round).\n")
print("| server | req/s | p50 µs | p99 µs | CPU µs/req | req/s vs (1) | req/s vs (2) | p99 vs (2) | non-2xx |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ["static", "redis-get", "route-redis", "route-embedded", "route-two-tier", "cached-crate"]:
    if mode not in med: continue
    rps, p50, p99, cpu_req, bad = med[mode]
    fmt = lambda r: "-" if r is None else f"{r:.2f}"
    r1, r2, l2 = fmt(paired(mode, "static", 0)), fmt(paired(mode, "redis-get", 0)), fmt(paired(mode, "redis-get", 2))
    print(f"| {names[mode]} | {rps:,.0f} | {p50:.0f} | {p99:.0f} | {cpu_req:.1f} | {r1} | {r2} | {l2} | {bad} |")
PY
cat results/latest.md

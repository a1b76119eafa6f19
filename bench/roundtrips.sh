#!/usr/bin/env bash
# Round trips on a request's critical path, with Redis one hop away: a
# delaying TCP proxy (bench/src/bin/delay-proxy.rs, DELAY ms each way,
# default 5) sits between `bench-server route-redis` (whose miss costs
# 20 ms) and a redis-server of its own. Prints the median latency of a
# hit and of a cold miss (a new id each time), and the milliseconds above
# the handler's own 20 ms, in round trips of 2*DELAY.
#
#   bench/roundtrips.sh            # N=30 requests of each kind
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-30}
DELAY=${DELAY:-5}
command -v redis-server >/dev/null || { echo "redis-server is needed (scripts/test.sh installs it)" >&2; exit 1; }
cargo build --release --bin bench-server --bin delay-proxy >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); PP=$(free_port); SP=$(free_port)
redis-server --port "$RP" --save '' --appendonly no --daemonize no >/dev/null &
REDIS=$!
target/release/delay-proxy "$PP" "127.0.0.1:$RP" "$DELAY" &
PROXY=$!
trap 'kill $REDIS $PROXY ${SERVER:-} 2>/dev/null || true' EXIT
sleep 0.5
target/release/bench-server route-redis "$SP" "redis://127.0.0.1:$PP" >/dev/null &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SP/items/1" >/dev/null && break; sleep 0.1; done
sleep 1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$SP$1" | awk '{printf "%.1f\n", $1*1000}'; }
BASE=$((RANDOM * 1000 + 100))
miss=$(for i in $(seq "$N"); do ms "/items/$((BASE + i))"; done | median)
for i in $(seq 5); do ms "/items/1" >/dev/null; done
hit=$(for i in $(seq "$N"); do ms "/items/1"; done | median)
python3 - "$hit" "$miss" "$DELAY" <<'PY'
import sys
hit, miss, delay = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
rt = 2 * delay
# A hit is one round trip plus the fixed cost of a request (client,
# server, the proxy's timer rounding): a miss's round trips beyond the
# hit's are (miss - handler - hit) / round trip.
print(f"hit: median {hit:.1f} ms (one round trip of {rt:.0f} ms nominal)")
print(f"cold miss: median {miss:.1f} ms, {miss - 20:.1f} ms above the 20 ms handler, "
      f"{miss - 20 - hit:.1f} ms more than a hit (~{(miss - 20 - hit) / rt:.1f} round trips more)")
PY

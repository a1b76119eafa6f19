"""The load benchmark's report (bench/run.sh): a table per scenario and the
targets, from the runs' results.

    report.py RESULTS BODIES DURATION ROUNDS REMOTE_ROUNDS CONNECTIONS REMOTE_DELAY

RESULTS has one line per run: scenario, mode, req/s, p50 µs, p99 µs, server
CPU µs per request, non-2xx responses, bytes per response. BODIES has the
hash of the body every server of a scenario sent. Ratios are medians of
paired ratios: each run against its baseline's run in the same round."""
import datetime
import platform
import statistics
import subprocess
import sys

results, bodies, duration, rounds, remote_rounds, conns, delay = sys.argv[1:8]

runs = {}
for line in open(results):
    scenario, mode, rps, p50, p99, cpu, non2xx, size = line.rstrip("\n").split("\t")
    runs.setdefault(scenario, {}).setdefault(mode, []).append(
        (float(rps), float(p50), float(p99), float(cpu), int(non2xx or 0), int(size)))

hashes = {}
for line in open(bodies):
    scenario, mode, digest = line.rstrip("\n").split("\t")
    hashes.setdefault(scenario, {}).setdefault(digest, set()).add(mode)

NAMES = {
    "static": "(1) static axum handler",
    "redis-get": "(2) hand-written Redis GET",
    "route-redis": "(3) #[cached_route], Redis",
    "route-embedded": "(4) #[cached_route], embedded",
    "route-two-tier": "(4) #[cached_route], L1 + Redis",
    "cached-crate": "(5) cached crate, AsyncRedisCache",
    "nginx": "(6) nginx proxy_cache",
    "varnish": "(7) Varnish",
    "catalog-route": "(a) #[cached_route], stored gzipped",
    "catalog-layer": "(b) #[cached_route] under CompressionLayer",
    "catalog-plain": "(c) #[cached_route], uncompressed",
}
# Per scenario: its title, and the baselines its ratio columns compare with.
SCENARIOS = {
    "1k": ("~1 KB JSON item, no Accept-Encoding", [("static", "(1)"), ("redis-get", "(2)"), ("nginx", "(6)")]),
    "gzip-100k": ("~97 KB JSON catalogue page, client sends Accept-Encoding: gzip", [("catalog-layer", "(b)")]),
    "remote-redis": (f"~1 KB JSON item, Redis behind a proxy adding {delay} ms each way", [("redis-get", "(2)")]),
}


def paired(scenario, mode, base, field=0):
    rows = runs.get(scenario, {})
    if mode not in rows or base not in rows:
        return None
    return statistics.median(a[field] / b[field] for a, b in zip(rows[mode], rows[base]) if b[field] > 0)


def fmt(ratio):
    return "-" if ratio is None else f"{ratio:.2f}"


cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"Load benchmark, {datetime.date.today()}, {platform.machine()} {cpu}, {cores} cores; "
      f"server pinned to one core (nginx and Varnish with all their processes), wrk, redis-server, "
      f"the delaying proxy and the peers' uncached origin on the other; wrk -t1 -c{conns}, "
      f"{duration} s per run, 1 sequential + {rounds} interleaved runs per server "
      f"({remote_rounds} for remote Redis), medians shown. Ratios are medians of per-round "
      f"paired ratios (each run against the baseline's run in the same round).\n")

failed = False
for scenario, (title, bases) in SCENARIOS.items():
    if scenario not in runs:
        continue
    print(f"### {scenario}: {title}\n")
    same = hashes.get(scenario, {})
    if len(same) == 1:
        print("Every server sent the same body (decoded), byte for byte.\n")
    else:
        failed = True
        print(f"**Bodies differ between servers:** {sorted((sorted(m), d) for d, m in same.items())}\n")
    cols = "".join(f" req/s vs {label} |" for _, label in bases)
    print(f"| server | req/s | p50 µs | p99 µs | CPU µs/req | bytes/resp |{cols} non-2xx |")
    print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(bases) + "---:|")
    for mode in NAMES:
        rows = runs[scenario].get(mode)
        if not rows:
            continue
        rps, p50, p99, cpu_req, size = (statistics.median(r[i] for r in rows) for i in (0, 1, 2, 3, 5))
        bad = sum(r[4] for r in rows)
        failed |= bad > 0
        ratios = "".join(f" {fmt(paired(scenario, mode, base))} |" for base, _ in bases)
        print(f"| {NAMES[mode]} | {rps:,.0f} | {p50:.0f} | {p99:.0f} | {cpu_req:.1f} | {size:,.0f} |{ratios} {bad} |")
    print()

TARGETS = [
    ("embedded hit vs nginx proxy_cache hit", "1k", "route-embedded", "nginx", 1.3),
    ("two-tier hit vs nginx proxy_cache hit", "1k", "route-two-tier", "nginx", 1.3),
    ("embedded hit vs Varnish hit", "1k", "route-embedded", "varnish", None),
    # Issue 28 raised these from 0.90.
    ("embedded hit vs static handler", "1k", "route-embedded", "static", 0.95),
    ("two-tier hit vs static handler", "1k", "route-two-tier", "static", 0.95),
    ("Redis hit vs hand-written GET", "1k", "route-redis", "redis-get", 0.97),
    ("100 KB gzip hit vs CompressionLayer per hit", "gzip-100k", "catalog-route", "catalog-layer", 5.0),
    ("100 KB gzip hit vs uncompressed hit", "gzip-100k", "catalog-route", "catalog-plain", None),
    ("remote Redis: Redis hit vs hand-written GET", "remote-redis", "route-redis", "redis-get", None),
    ("remote Redis: two-tier hit vs hand-written GET", "remote-redis", "route-two-tier", "redis-get", None),
]
print("### Targets (req/s ratios)\n")
print("| what | target | measured | met |")
print("|---|---:|---:|---|")
for what, scenario, mode, base, target in TARGETS:
    ratio = paired(scenario, mode, base)
    if ratio is None:
        continue
    met = "" if target is None else ("yes" if ratio >= target else "**no**")
    # Three places where the ratio would print as the target it missed.
    shown = f"{ratio:.3f}" if target is not None and f"{ratio:.2f}" == f"{target:.2f}" else f"{ratio:.2f}"
    print(f"| {what} | {'-' if target is None else f'≥ {target:.2f}'} | {shown} | {met} |")
print()
# Single rounds here move by tens of percent (0.62x to 1.12x for a hit
# against the static handler in one run), and a static handler near its core's limit is partly held
# back by wrk: a target a few percent wide is settled by paired runs.
print("Ratios within a few percent of a target are settled by `bench/paired.sh` "
      "(baseline and server at the same time, about ±1 %), not by these medians.\n")
sys.exit(1 if failed else 0)

"""The cost curves' report (bench/curves.sh): one table per sweep, the
peers on the same rows, and the targets.

    curves_report.py RESULTS DURATION WARMUP ROUNDS CAPACITY MISS_COST_MS

RESULTS has one JSON object per line: a loadgen run (sweep, point, mode,
round, rps, hit_rate, p50_us, p99_us, cpu_us, ...) or a memory-probe line
(sweep "memory"). Every figure is the median over the rounds."""
import datetime
import json
import platform
import statistics
import subprocess
import sys

results, duration, warmup, rounds, capacity, miss_cost = sys.argv[1:7]
rows = [json.loads(line) for line in open(results) if line.strip()]

NAMES = {
    "static": "static axum handler",
    "route-embedded": "#[cached_route], embedded",
    "route-two-tier": "#[cached_route], L1 + Redis",
    "route-redis": "#[cached_route], Redis",
    "nginx": "nginx proxy_cache",
    "varnish": "Varnish",
}


def runs(sweep):
    """{point: {mode: [row, ...]}} in first-seen order."""
    out = {}
    for r in rows:
        if r["sweep"] == sweep:
            out.setdefault(r["point"], {}).setdefault(r["mode"], []).append(r)
    return out


def med(rs, field):
    values = [r[field] for r in rs if field in r]
    return statistics.median(values) if values else float("nan")


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip() or \
            subprocess.run(cmd, capture_output=True, text=True, check=False).stderr.strip()
    except OSError:
        return "not installed"


out = []
p = out.append
p("# Cost curves")
p("")
p(f"Written by `bench/curves.sh` on {datetime.date.today()} ({platform.machine()}, "
  f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores). "
  f"{duration} s measured after {warmup} s of warm-up per run (2 s for the body, connection "
  f"and mix sweeps), median of {rounds} interleaved rounds; misses cost {miss_cost} ms "
  f"(20 ms in the mix). The server under test has one core; the load generator "
  f"(`bench/src/bin/loadgen.rs`, one thread), redis-server and the peers' origin the other. "
  f"CPU is the server's (all its processes), per request over the measured seconds. Peers: "
  f"{version(['nginx', '-v']).splitlines()[0] if version(['nginx', '-v']) else 'nginx'}, "
  f"{version(['varnishd', '-V']).splitlines()[0] if version(['varnishd', '-V']) else 'varnishd'}.")
p("")
targets = []

memory = runs("memory")
if memory:
    p("## Memory per live entry (~1 KB body, one tag each)")
    p("")
    p("Redis: growth of `used_memory` per entry, split into the entry (key and value) and its "
      "index sets (path and tag, by `MEMORY USAGE`); ratio = used per entry / stored value length. "
      "Embedded: growth of the process's resident memory per entry (`memory-probe`).")
    p("")
    p("| entries | Redis used/entry | entry part | index part | value length | ratio | embedded RSS/entry |")
    p("|---:|---:|---:|---:|---:|---:|---:|")
    for point, modes in memory.items():
        def fields(mode):
            line = modes.get(mode, [{}])[0].get("line", "")
            return dict(f.split("=", 1) for f in line.split("\t") if "=" in f)
        r, e = fields("redis"), fields("embedded")
        p(f"| {int(point):,} | {r.get('used_per_entry', '–')} B | {r.get('entry_part', '–')} B | "
          f"{r.get('index_part', '–')} B | {r.get('value_len', '–')} B | {r.get('ratio', '–')}× | "
          f"{e.get('rss_per_entry', '–')} B |")
        # Below 100 k entries the growth is mostly Redis's own (hash table
        # resizes, client buffers): the target is read from 100 k on.
        if "ratio" in r and int(point) >= 100_000:
            ratio = float(r["ratio"])
            targets.append((f"Redis used_memory per 1 KB entry with one tag, {int(point):,} entries",
                            f"{ratio:.2f}× the value", "≤ 1.5×", ratio <= 1.5))
    p("")

keys = runs("keys")
if keys:
    p(f"## Keys: distinct keys × access pattern, {int(capacity) >> 20} MiB for every cache")
    p("")
    p("Hit rate over the measured requests (`x-cache: HIT`). The ideal LRU replays the same trace "
      "with as many entries as the embedded store's bytes hold at the entry weight it reports. "
      "Redis has `maxmemory` of the same bytes (`allkeys-lru`); the two-tier L1 a quarter of them.")
    p("")
    p("| keys | access | server | hit rate | req/s | p50 µs | p99 µs | CPU µs/req |")
    p("|---:|---|---|---:|---:|---:|---:|---:|")
    for point, modes in keys.items():
        n, dist = point.split()
        for mode, rs in modes.items():
            p(f"| {int(n):,} | {dist} | {NAMES.get(mode, mode)} | {100 * med(rs, 'hit_rate'):.1f} % | "
              f"{med(rs, 'rps'):,.0f} | {med(rs, 'p50_us'):,.0f} | {med(rs, 'p99_us'):,.0f} | "
              f"{med(rs, 'cpu_us'):.1f} |")
            if mode == "route-embedded" and any("lru_hit_rate" in r for r in rs):
                lru = med(rs, "lru_hit_rate")
                p(f"| {int(n):,} | {dist} | ideal LRU, {int(med(rs, 'lru_entries')):,} entries of "
                  f"{int(med(rs, 'entry_weight')):,} B | {100 * lru:.1f} % | | | | |")
                if n == "1000000" and dist == "zipf":
                    gap = 100 * (lru - med(rs, "hit_rate"))
                    targets.append(("1 M keys Zipf: embedded hit rate against an ideal LRU",
                                    f"{100 * med(rs, 'hit_rate'):.1f} % vs {100 * lru:.1f} %",
                                    "within 2 points", gap <= 2.0))
    p("")


def ratio_table(sweep, title, intro, point_label, with_bytes):
    data = runs(sweep)
    if not data:
        return
    p(f"## {title}")
    p("")
    p(intro)
    p("")
    p(f"| {point_label} | server | req/s | × static | p50 µs | p99 µs | CPU µs/req |" +
      (" bytes/resp |" if with_bytes else ""))
    p("|---|---|---:|---:|---:|---:|---:|" + ("---:|" if with_bytes else ""))
    for point, modes in data.items():
        base = modes.get("static")
        for mode, rs in modes.items():
            # The median of per-round ratios against the static run of the
            # same round.
            ratio = "–"
            if base:
                paired = [r["rps"] / b["rps"] for r in rs for b in base
                          if b["round"] == r["round"] and b["rps"] > 0]
                if paired:
                    ratio = f"{statistics.median(paired):.2f}"
                    if sweep == "bodies" and point.startswith("1000000") and mode == "route-embedded":
                        targets.append((f"1 MB bodies, {point.split()[1]} clients: embedded hits against static",
                                        f"{ratio}×", "≥ 0.9×", float(ratio) >= 0.9))
            p(f"| {point} | {NAMES.get(mode, mode)} | {med(rs, 'rps'):,.0f} | {ratio} | "
              f"{med(rs, 'p50_us'):,.0f} | {med(rs, 'p99_us'):,.0f} | {med(rs, 'cpu_us'):.1f} |" +
              (f" {med(rs, 'bytes_per_response'):,.0f} |" if with_bytes else ""))
    p("")


ratio_table("bodies", "Body size: hits, identity and gzip clients",
            "100 keys of compressible JSON, all hits. The static handler serves the same bytes "
            "(precompressed at gzip level 6 for gzip clients); the cache stores gzip and "
            "decompresses for identity clients (keeping the decoded body of hot entries); nginx "
            "compresses every response (`gzip on`, level 6); Varnish stores gzip "
            "(`beresp.do_gzip`) and gunzips for identity clients. The embedded store has 1.5 GiB, "
            "so that the 100 entries' decoded bodies fit in its decoded-body table (an eighth "
            "of the capacity); below `compress_min_bytes` (1 KiB) it stores and serves the "
            "identity. Bytes per response include headers.", "body, client", True)
ratio_table("connections", "Connections: 1 KB hits",
            "100 keys of the ~1 KB item, all hits.", "connections", False)

mix = runs("mix")
if mix:
    p("## Small hits beside large misses")
    p("")
    p("1 KB hits on 100 keys over 32 connections, alone, then with 10 % of requests cold misses "
      "of ~1 MB compressible JSON (each a new key: computed in 20 ms, compressed and stored). "
      "Compressing 1 MB takes about 126 ms of the server's one core, so the misses hold it "
      "busy and, in a closed loop, most connections wait on one: few hits are asked, and "
      "the table shows how long those wait behind the compressions.")
    p("")
    p("| server | load | hit req/s | hit p50 µs | hit p99 µs | large misses | large p50 µs | large p99 µs |")
    p("|---|---|---:|---:|---:|---:|---:|---:|")
    alone = {}
    for point, modes in mix.items():
        for mode, rs in modes.items():
            small_rps = med(rs, "rps") * (1 - med(rs, "large") / max(med(rs, "requests"), 1))
            p(f"| {NAMES.get(mode, mode)} | {point} | {small_rps:,.0f} | {med(rs, 'p50_us'):,.0f} | "
              f"{med(rs, 'p99_us'):,.0f} | {med(rs, 'large'):,.0f} | {med(rs, 'large_p50_us'):,.0f} | "
              f"{med(rs, 'large_p99_us'):,.0f} |")
            if point == "hits only":
                alone[mode] = med(rs, "p99_us")
            elif mode in alone and alone[mode] > 0:
                ratio = med(rs, "p99_us") / alone[mode]
                targets.append((f"{NAMES.get(mode, mode)}: p99 of small hits with 10 % large misses",
                                f"{ratio:.2f}× alone", "≤ 2×", ratio <= 2.0))
    p("")

if targets:
    p("## Targets")
    p("")
    p("| target | measured | aim | met |")
    p("|---|---|---|---|")
    for name, measured, aim, met in targets:
        p(f"| {name} | {measured} | {aim} | {'yes' if met else '**no**'} |")
    p("")

print("\n".join(out))

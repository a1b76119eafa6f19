"""The hit path's instruction budget, step by step, from a callgrind
profile of bench/profile.sh: each function of the cache (and the handler
wrapper the macro generates) with its inclusive instructions per request.

    budget.py PROFILE REQUESTS [MIN_PER_REQUEST]

Inclusive counts nest (a step includes the steps it calls), so the table
is read as a tree: the top rows are the whole, the rows under them parts."""
import re
import subprocess
import sys

profile, requests = sys.argv[1], int(sys.argv[2])
floor = float(sys.argv[3]) if len(sys.argv) > 3 else 40.0

out = subprocess.run(
    ["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
    capture_output=True, text=True, check=True).stdout

rows = []
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    name = m.group(2)
    if name.startswith("=>"):
        continue  # a call site's share, repeated from its function's row
    # "file:function [object]": keep the function.
    name = re.sub(r"\s*\[[^\]]*\]$", "", name)
    name = name.split(":", 1)[1] if re.match(r"^[^ ]*\.rs:|^\?\?\?:", name) else name
    per = ir / requests
    if per < floor:
        continue
    if "cache_runtime" in name or "hit_profile" in name or "cached_route" in name:
        rows.append((per, name))

seen = set()
print(f"| instructions per request | step ({profile}) |")
print("|---:|---|")
for per, name in sorted(rows, reverse=True):
    short = re.sub(r"<[^<>]*>", "", name).replace("::::", "::<impl>::")
    short = re.sub(r"::\{\{closure\}\}", "::{closure}", short)
    if short in seen:
        continue
    seen.add(short)
    print(f"| {per:,.0f} | `{short[:110]}` |")

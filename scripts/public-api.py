#!/usr/bin/env python3
"""Lists cache-runtime's public API from rustdoc's JSON: every item a user
can name (functions, methods, types, traits, consts), one per line,
sorted, as `kind path`. Items under `#[doc(hidden)]` (the versioned path
the generated code uses) are left out, and so are trait impls.

    python3 scripts/public-api.py target/docjson/doc/cache_runtime.json
"""
import json
import sys

doc = json.load(open(sys.argv[1]))
index = doc["index"]


def item(iid):
    return index.get(str(iid))


def hidden(it):
    return any("hidden" in str(a) for a in it.get("attrs", []))


lines = set()
seen = set()


def walk(iid, path):
    if iid in seen:
        return
    seen.add(iid)
    it = item(iid)
    if it is None or hidden(it):
        return
    kind, inner = next(iter(it["inner"].items()))
    name = it.get("name")
    here = path + [name] if name else path
    if kind == "module":
        for child in inner["items"]:
            walk(child, here)
        return
    if kind == "use":
        if inner.get("id") is not None:
            walk(inner["id"], path)
        return
    lines.add(f"{kind} {'::'.join(here)}")
    if kind in ("struct", "enum", "union"):
        for impl_id in inner.get("impls", []):
            imp = item(impl_id)["inner"]["impl"]
            if imp.get("trait") is not None or imp.get("is_synthetic") or imp.get("blanket_impl"):
                continue
            for m in imp["items"]:
                mi = item(m)
                if mi.get("visibility") == "public" and not hidden(mi):
                    mkind = next(iter(mi["inner"]))
                    lines.add(f"{mkind} {'::'.join(here + [mi['name']])}")
    if kind == "trait":
        for m in inner["items"]:
            mi = item(m)
            if not hidden(mi):
                lines.add(f"{next(iter(mi['inner']))} {'::'.join(here + [mi['name']])}")


walk(doc["root"], [])
for line in sorted(lines):
    print(line)

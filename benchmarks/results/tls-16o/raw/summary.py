#!/usr/bin/env python3
"""Pools the paired rounds of several conncap.py windows (their rows.json): for each mode and
pair of servers, the ratio per round (conns/s, server CPU µs per connection), median, min-max,
how many rounds >= 1 (conns/s) or <= 1 (CPU/conn), and the geometric mean.
usage: summary.py DIR... (each holding rows.json)"""
import json, math, os, statistics, sys
pairs = [("new", "nethttp"), ("new", "main"), ("main", "nethttp"), ("idle", "main"), ("new", "idle"), ("idle", "nethttp")]
by = {}
for d in sys.argv[1:]:
    for x in json.load(open(os.path.join(d, "rows.json"))):
        by.setdefault((x["mode"], d, x["round"]), {})[x["server"]] = x
print(f"windows: {' '.join(sys.argv[1:])}\n")
print("| mode | ratio | rounds | conns/s median (min–max) | ≥ 1 | geo. mean | CPU/conn median (min–max) | ≤ 1 |")
print("|---|---|---:|---|---:|---:|---|---:|")
for mode in ("full", "resumed"):
    for a, b in pairs:
        rr, cc = [], []
        for (m, d, r), s in sorted(by.items()):
            if m == mode and a in s and b in s:
                rr.append(s[a]["rate"] / s[b]["rate"])
                cc.append(s[a]["us_per_conn"] / s[b]["us_per_conn"])
        if not rr:
            continue
        gm = math.exp(sum(map(math.log, rr)) / len(rr))
        print(f"| {mode} | {a} ÷ {b} | {len(rr)} | {statistics.median(rr):.2f}× ({min(rr):.2f}–{max(rr):.2f}) | {sum(v >= 1 for v in rr)} | {gm:.2f}× "
              f"| {statistics.median(cc):.2f}× ({min(cc):.2f}–{max(cc):.2f}) | {sum(v <= 1 for v in cc)} |")
print("\nAbsolute, per server (median over rounds; min–max):\n")
print("| mode | server | conns/s | server CPU µs/conn | server CPU % | errors |")
print("|---|---|---|---|---|---:|")
for mode in ("full", "resumed"):
    for srv in ("new", "main", "idle", "nethttp"):
        xs = [s[srv] for (m, d, r), s in sorted(by.items()) if m == mode and srv in s]
        if not xs:
            continue
        f = lambda k: f"{statistics.median([x[k] for x in xs]):.0f} ({min(x[k] for x in xs):.0f}–{max(x[k] for x in xs):.0f})"
        print(f"| {mode} | {srv} | {f('rate')} | {f('us_per_conn')} | {f('server_pct')} | {sum(x['errors'] for x in xs)} |")

#!/usr/bin/env python3
"""ratios.py SAMPLES.json A B [A B ...]: paired ratios A / B of the driver's
https-rate samples, per cell, within each round, as median (min-max) over
the rounds, for core CPU/req and the process's CPU/req. For pairs the
driver's RESULTS.md does not print (an extra peer against net/http or
another extra peer)."""
import json, sys, statistics, collections
d = json.load(open(sys.argv[1]))
pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
by = collections.defaultdict(dict)
cells = []
for s in d["samples"]:
    if s["suite"] != "https-rate" or s.get("errors"):
        continue
    if s["cell"] not in cells:
        cells.append(s["cell"])
    by[(s["cell"], s["round"])][s["peer"]] = s
rounds = sorted({r for (_, r) in by})
def fmt(v):
    return f"{statistics.median(v):.2f}× ({min(v):.2f}–{max(v):.2f})" if v else "–"
print("| cell | pair | core CPU/req | process CPU/req |")
print("|---|---|---:|---:|")
for c in cells:
    for a, b in pairs:
        core, proc = [], []
        for r in rounds:
            x = by.get((c, r), {})
            if a in x and b in x:
                core.append(x[a]["core_cpu_per_msg_ns"] / x[b]["core_cpu_per_msg_ns"])
                proc.append(x[a]["server_cpu_per_msg_ns"] / x[b]["server_cpu_per_msg_ns"])
        print(f"| {c} | {a} ÷ {b} | {fmt(core)} | {fmt(proc)} |")

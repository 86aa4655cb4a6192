#!/usr/bin/env python3
"""Tabulates BenchmarkTLSHandshakeFlood lines: per sub-benchmark, the median (min-max) of each metric over the runs."""
import re, sys, statistics
from collections import defaultdict
keys = ["closed-unloaded-p99-µs", "closed-flood-p99-µs", "closed-p99-ratio", "closed-rate-ratio",
        "fixed-offered/s", "fixed-unloaded-p99-µs", "fixed-flood-p99-µs", "fixed-p99-ratio", "fixed-rate-ratio", "fixed-flood-phase-s",
        "closed-flights/s", "closed-refused/s", "closed-deferred/s", "closed-slot-busy",
        "fixed-flights/s", "fixed-refused/s", "fixed-deferred/s", "fixed-slot-busy",
        "closed-holds/s", "closed-yields/s", "closed-listen-overflows/s", "closed-listen-drops/s", "closed-free-slots/s", "closed-flood-conns/s",
        "fixed-holds/s", "fixed-yields/s", "fixed-listen-overflows/s", "fixed-listen-drops/s", "fixed-free-slots/s", "fixed-flood-conns/s"]
runs = defaultdict(list)
fails = []
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"(BenchmarkTLSHandshakeFlood/\S+?)-\d+\s+\d+\s+\d+ ns/op\s+(.*)", line)
        if m:
            f = m.group(2).split()
            runs[m.group(1)].append({f[i+1]: float(f[i]) for i in range(0, len(f), 2)})
        elif line.startswith("--- FAIL") or "FAIL" in line.split()[:1] or "i/o timeout" in line:
            fails.append(path + ": " + line.strip())
def fmt(v):
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
for name, rs in runs.items():
    print(f"{name}  (n={len(rs)})")
    for k in keys:
        vs = [r[k] for r in rs if k in r]
        if vs:
            print(f"  {k:24s} {fmt(statistics.median(vs)):>8s}  ({fmt(min(vs))}–{fmt(max(vs))})   all: {' '.join(fmt(v) for v in vs)}")
for f in fails:
    print("FAIL:", f)

#!/usr/bin/env python3
"""tls-16m: per build, the flood bench's ratios run by run (in the order run)
and how many runs meet the issue's bar (p99 ratio <= 2, rate ratio >= 0.5),
from the files run.sh wrote (RUN/BUILD.txt).

usage: summary.py RUN/BUILD.txt...
"""
import sys, re, collections
rows = collections.defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        if not line.startswith('BenchmarkTLSHandshakeFlood/'):
            continue
        name = line.split()[0].split('/', 1)[1].rsplit('-', 1)[0]
        m = dict((k, float(v)) for v, k in re.findall(r'([0-9.]+) ([a-z0-9-]+(?:/s)?)', line))
        rows[(path, name)].append(m)
for (path, name), ms in rows.items():
    print(f"{path} {name}")
    for kind in ('fixed', 'closed'):
        p = [m[kind + '-p99-ratio'] for m in ms]
        r = [m[kind + '-rate-ratio'] for m in ms]
        met = sum(1 for a, b in zip(p, r) if a <= 2 and b >= 0.5)
        print(f"  {kind:6s} p99 ratio {' '.join(f'{x:.2f}' for x in p)} | rate ratio {' '.join(f'{x:.2f}' for x in r)} | met {met} of {len(ms)}")

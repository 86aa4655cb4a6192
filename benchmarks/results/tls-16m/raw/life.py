#!/usr/bin/env python3
"""tls-16m: for the goroutines the shards created (handshakes) in a window of a
server trace, how long from creation to first running, and to first parking
(Running->Waiting: in acquire for a CPU slot, or waiting for the peer),
per bin of creation time; with the client's worst latency of messages due
then. Times are ms after the fixed-rate flood phase's start.

usage: life.py EVENTS LATLOG_PREFIX G[,G...] FROM_MS TO_MS [bin_ms]
"""
import sys, os, collections
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tls-16h/raw'))
import tracelog
ev, gs, a_ms, b_ms, binms, fixed1, worst = tracelog.window_args(sys.argv, 20.0)
born, first_run, first_park = {}, {}, {}
for G, gid, frm, to, rel, _ in tracelog.transitions(ev, fixed1):
    if frm == 'NotExist' and G in gs and a_ms <= rel < b_ms: born[gid] = rel
    elif gid in born:
        if to == 'Running' and gid not in first_run: first_run[gid] = rel
        if frm == 'Running' and to == 'Waiting' and gid not in first_park: first_park[gid] = rel
bins = collections.defaultdict(list)
for gid, t in born.items():
    bins[int(t // binms)].append(gid)
print(f"bin {binms:g} ms | created | ms to first run: median, max | ms to first park: median, max | never ran | client worst ms")
for b in sorted(set(bins) | {k for k in worst if a_ms <= k * binms < b_ms}):
    g = bins.get(b, [])
    r = sorted(first_run[x] - born[x] for x in g if x in first_run)
    p = sorted(first_park[x] - born[x] for x in g if x in first_park)
    med = lambda v: v[len(v) // 2] if v else float('nan')
    print(f"{b*binms:7.0f} {len(g):6d}   {med(r):7.2f} {max(r) if r else float('nan'):7.2f}   {med(p):7.2f} {max(p) if p else float('nan'):7.2f}  {len(g)-len(r):6d}   {worst.get(b, 0):6.1f}")

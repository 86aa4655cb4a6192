#!/usr/bin/env python3
"""tls-16l: who held the P in a window of a server trace: per goroutine, its
time Running in [FROM_MS, TO_MS) after the fixed-rate flood phase's start
(wall-clock ns FIXED1), and its stretches Running of at least MIN_MS.

usage: whoran.py EVENTS FIXED1_WALL_NS FROM_MS TO_MS [min_ms]
"""
import sys, os, collections
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tls-16h/raw'))
import tracelog
ev, fixed1, a_ms, b_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
min_ms = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
since, tot, longs = {}, collections.Counter(), []
creator, nrun = {}, collections.Counter()
for G, gid, frm, to, rel, _ in tracelog.transitions(ev, fixed1):
    if frm == 'NotExist': creator[gid] = G
    if to == 'Running': since[gid] = rel
    elif frm == 'Running' and gid in since:
        s, e = max(since.pop(gid), a_ms), min(rel, b_ms)
        if e > s:
            tot[gid] += e - s; nrun[gid] += 1
            if e - s >= min_ms: longs.append((s, e - s, gid, to))
print(f"window {a_ms}..{b_ms} ms; goroutines by time Running (creator in the trace, if any):")
for g, d in tot.most_common(15):
    print(f"  G{g:>6} {d:7.2f} ms in {nrun[g]} runs  created by G{creator.get(g, '?')}")
others = sum(d for g, d in tot.items()) 
print(f"  all goroutines: {others:.2f} ms Running, {len(tot)} goroutines")
print(f"stretches >= {min_ms} ms:")
for s, d, g, to in sorted(longs):
    print(f"  {s:8.2f} {d:6.2f} G{g} -> {to}")

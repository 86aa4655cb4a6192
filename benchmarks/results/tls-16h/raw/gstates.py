#!/usr/bin/env python3
"""tls-16h: what given goroutines (the shards) did in a window of a runtime
trace: time Running, in a Syscall, Runnable (waiting for a P), Waiting,
and the longest stretches of each, from `go tool trace -d=parsed` output
with the stack lines removed.

usage: gstates.py EVENTS FIXED1_WALL_NS FROM_MS TO_MS G[,G...] [min_ms]
Times are ms after FIXED1_WALL_NS (the fixed-rate flood phase's start).
"""
import sys, re, collections
import tracelog
ev, fixed1, a_ms, b_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
gs = set(sys.argv[5].split(','))
min_ms = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
state, since = {}, {}
tot = collections.defaultdict(lambda: collections.defaultdict(float))
longs = []
created = collections.Counter()
ranges = []
for G, kind, rel, rest in tracelog.events(ev, fixed1):
    if kind in ('RangeBegin', 'RangeEnd') and a_ms <= rel <= b_ms:
        nm = re.search(r'Name="([^"]*)"', rest)
        ranges.append((rel, kind, nm.group(1) if nm else '', G))
    if kind != 'StateTransition': continue
    mg = re.search(r'GoID=(\d+) (\w+)->(\w+)', rest)
    if not mg: continue
    gid, frm, to = mg.groups()
    if to == 'Runnable' and frm == 'NotExist' and G in gs and a_ms <= rel <= b_ms:
        created[G] += 1
    if gid not in gs: continue
    if gid in state and a_ms <= rel and since[gid] <= b_ms:
        s0 = max(since[gid], a_ms); s1 = min(rel, b_ms)
        tot[gid][state[gid]] += s1 - s0
        if rel - since[gid] >= min_ms:
            longs.append((since[gid], rel - since[gid], gid, state[gid], to, re.search(r'Reason="([^"]*)"', rest).group(1)))
    state[gid], since[gid] = to, rel
print(f"window {a_ms}..{b_ms} ms")
for g in sorted(tot):
    print(f"  G{g}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(tot[g].items())) + f"; goroutines it created {created[g]}")
print(f"  stretches >= {min_ms} ms (start, length, G, state -> next, reason):")
for s in sorted(longs):
    if s[0] + s[1] >= a_ms and s[0] <= b_ms:
        print(f"    {s[0]:9.2f} {s[1]:7.2f} G{s[2]} {s[3]} -> {s[4]} {s[5]}")
print("  ranges (GC, STW, assists) in the window:")
for r in ranges[:60]:
    print(f"    {r[0]:9.2f} {r[1]} {r[2]} G{r[3]}")

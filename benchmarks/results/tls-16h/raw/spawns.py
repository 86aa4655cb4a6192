#!/usr/bin/env python3
"""tls-16h: per 50 ms of a server trace: goroutines the shards created
(handshakes), the shards' time Runnable (waiting for a P) and waiting
in GC assists, GC mark phases; beside the client's worst latency of the
messages due then.

usage: spawns.py EVENTS LATLOG_PREFIX G[,G...] [bin_ms]
"""
import sys, re, collections
import tracelog
ev, pre = sys.argv[1], sys.argv[2]
gs = set(sys.argv[3].split(','))
binms = float(sys.argv[4]) if len(sys.argv) > 4 else 50.0
marks, cl = tracelog.client_log(pre)
fixed1, end = marks['fixed1'], marks['fixed1-end']
worst = tracelog.worst_by_bin(cl, fixed1, binms)
spawn = collections.Counter(); runnable = collections.defaultdict(float); assistw = collections.defaultdict(float)
gcmark = collections.defaultdict(float); state, since, reason = {}, {}, {}
gcstart = None
def add(d, a, b):
    while a < b:
        k = int(a // binms); e = min(b, (k + 1) * binms); d[k] += e - a; a = e
for G, kind, rel, rest in tracelog.events(ev, fixed1):
    if kind in ('RangeBegin', 'RangeEnd') and 'concurrent mark' in rest:
        if kind == 'RangeBegin': gcstart = rel
        elif gcstart is not None: add(gcmark, gcstart, rel); gcstart = None
    if kind != 'StateTransition': continue
    mg = re.search(r'GoID=(\d+) (\w+)->(\w+) Reason="([^"]*)"', rest)
    if not mg: continue
    gid, frm, to, why = mg.groups()
    if frm == 'NotExist' and G in gs: spawn[int(rel // binms)] += 1
    if gid in gs:
        if gid in state:
            if state[gid] == 'Runnable': add(runnable, since[gid], rel)
            if state[gid] == 'Waiting' and 'assist' in reason[gid]: add(assistw, since[gid], rel)
        state[gid], since[gid], reason[gid] = to, rel, why
nb = int((end - fixed1) / 1e6 // binms) + 1
print(f"bin {binms:.0f} ms | shard-created goroutines | shards' ms Runnable (sum of {len(gs)}) | ms in GC assist waits | ms GC mark | client's worst latency ms")
for b in range(nb):
    print(f"{b*binms:7.0f} {spawn[b]:6d} {runnable[b]:7.1f} {assistw[b]:6.1f} {gcmark[b]:6.1f} {worst[b]:7.1f}")

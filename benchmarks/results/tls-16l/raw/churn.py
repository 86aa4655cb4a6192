#!/usr/bin/env python3
"""tls-16l: per bin of a server trace (ms after the fixed-rate flood phase's
start): goroutines created by the shards, goroutines that ended, and the
goroutines alive at the bin's end that the shards created (handshakes), with
the client's worst latency of the messages due then.

usage: churn.py EVENTS LATLOG_PREFIX G[,G...] FROM_MS TO_MS [bin_ms]
"""
import sys, os, collections
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tls-16h/raw'))
import tracelog
ev, gs, a_ms, b_ms, binms, fixed1, worst = tracelog.window_args(sys.argv, 10.0)
made, ended = collections.Counter(), collections.Counter()
hs = set(); alive = {}
for G, gid, frm, to, rel, _ in tracelog.transitions(ev, fixed1):
    b = int(rel // binms)
    if frm == 'NotExist' and G in gs: made[b] += 1; hs.add(gid)
    if to == 'NotExist' and gid in hs: ended[b] += 1; hs.discard(gid)
    alive[b] = len(hs)
print(f"bin {binms:.0f} ms | shard-created | handshake goroutines ended | alive (created in trace) | client worst ms")
last = 0
for b in range(int(a_ms // binms), int(b_ms // binms)):
    last = alive.get(b, last)
    print(f"{b*binms:7.0f} {made[b]:6d} {ended[b]:6d} {last:6d} {worst[b]:7.1f}")

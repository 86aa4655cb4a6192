#!/usr/bin/env python3
"""tls-16l: per bin of a server trace (ms after the fixed-rate flood phase's
start): goroutines created by the shards, goroutines that ended, and the
goroutines alive at the bin's end that the shards created (handshakes), with
the client's worst latency of the messages due then.

usage: churn.py EVENTS LATLOG_PREFIX G[,G...] FROM_MS TO_MS [bin_ms]
"""
import sys, re, datetime, collections
ev, pre = sys.argv[1], sys.argv[2]
gs = set(sys.argv[3].split(','))
a_ms, b_ms = float(sys.argv[4]), float(sys.argv[5])
binms = float(sys.argv[6]) if len(sys.argv) > 6 else 10.0
marks, worst = {}, collections.defaultdict(float)
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'mark': marks[f[1]] = int(f[2])
fixed1 = marks['fixed1']
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'msg' and f[1] == '1':
        due, got = int(f[4]), int(f[7])
        if got: b = int((due - fixed1) / 1e6 // binms); worst[b] = max(worst[b], (got - due) / 1e6)
pat = re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+)(.*)$')
off = None
made, ended = collections.Counter(), collections.Counter()
hs = set(); alive = {}
for line in open(ev):
    m = pat.match(line)
    if not m: continue
    M, P, G, kind, t, rest = m.groups(); t = int(t)
    if kind == 'Sync' and off is None:
        w = re.search(r'Wall=(\S+)', rest).group(1)
        dt = datetime.datetime.fromisoformat(w[:19] + '+00:00')
        frac = w.split('.')[1].rstrip('Z')
        off = int(dt.timestamp()) * 10**9 + int(frac.ljust(9, '0')[:9]) - t
        continue
    if off is None or kind != 'StateTransition': continue
    mg = re.search(r'GoID=(\d+) (\w+)->(\w+)', rest)
    if not mg: continue
    gid, frm, to = mg.groups()
    rel = (t + off - fixed1) / 1e6
    b = int(rel // binms)
    if frm == 'NotExist' and G in gs: made[b] += 1; hs.add(gid)
    if to == 'NotExist' and gid in hs: ended[b] += 1; hs.discard(gid)
    alive[b] = len(hs)
print(f"bin {binms:.0f} ms | shard-created | handshake goroutines ended | alive (created in trace) | client worst ms")
last = 0
for b in range(int(a_ms // binms), int(b_ms // binms)):
    last = alive.get(b, last)
    print(f"{b*binms:7.0f} {made[b]:6d} {ended[b]:6d} {last:6d} {worst[b]:7.1f}")

#!/usr/bin/env python3
"""tls-16m: for the goroutines the shards created (handshakes) in a window of a
server trace, how long from creation to first running, and to first parking
(Running->Waiting: in acquire for a CPU slot, or waiting for the peer),
per bin of creation time; with the client's worst latency of messages due
then. Times are ms after the fixed-rate flood phase's start.

usage: life.py EVENTS LATLOG_PREFIX G[,G...] FROM_MS TO_MS [bin_ms]
"""
import sys, re, datetime, collections
ev, pre = sys.argv[1], sys.argv[2]
gs = set(sys.argv[3].split(','))
a_ms, b_ms = float(sys.argv[4]), float(sys.argv[5])
binms = float(sys.argv[6]) if len(sys.argv) > 6 else 20.0
marks, worst = {}, collections.defaultdict(float)
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'mark': marks[f[1]] = int(f[2])
fixed1 = marks['fixed1']
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'msg' and f[1] == '1' and f[7] != '0':
        due, got = int(f[4]), int(f[7])
        b = int((due - fixed1) / 1e6 // binms)
        worst[b] = max(worst[b], (got - due) / 1e6)
pat = re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+)(.*)$')
off = None
born, first_run, first_park = {}, {}, {}
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

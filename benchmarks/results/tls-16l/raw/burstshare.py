#!/usr/bin/env python3
"""tls-16h: how much of the fixed-rate flood phase's p99 the handshake-start
burst makes: the messages due within the burst's window (from the first
100 ms bin of spawns.py's output with > 500 shard-created goroutines to
the last, plus 100 ms after), their share of the messages >= p99, and the
p99 of the others.

usage: burstshare.py LATLOG_PREFIX SPAWNS_FILE
"""
import sys
pre, sp = sys.argv[1], sys.argv[2]
marks, lat = {}, []
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'mark': marks[f[1]] = int(f[2])
    elif f[0] == 'msg' and f[1] == '1' and f[7] != '0': lat.append(((int(f[4]) - 0) , int(f[7]) - int(f[4])))
t0, t1 = marks['fixed1'], marks['fixed1-end']
lat = [(d, l) for d, l in lat if d + l < t1]  # as the bench: echoes back within the phase
bins = []
for line in open(sp):
    f = line.split()
    if f[0] != 'bin' and int(f[1]) > 500: bins.append(float(f[0]))
binw = 100.0
a, b = t0 + (min(bins)) * 1e6, t0 + (max(bins) + binw + 100) * 1e6
ls = sorted(l for _, l in lat)
p99 = ls[len(ls) * 99 // 100]
tail = [(d, l) for d, l in lat if l >= p99]
inb = [x for x in tail if a <= x[0] < b]
out = sorted(l for d, l in lat if not (a <= d < b))
print(f"burst window {min(bins):.0f}..{max(bins)+binw+100:.0f} ms: p99 {p99/1e6:.1f} ms; {len(inb)} of {len(tail)} messages >= p99 due in it; "
      f"the p99 of the {len(out)} messages due outside it {out[len(out)*99//100]/1e6:.1f} ms (of all: p50 {ls[len(ls)//2]/1e6:.2f} ms)")

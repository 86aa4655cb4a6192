#!/usr/bin/env python3
"""tls-16h: when, in the flooded fixed-rate phase, the messages at or
above its p99 were due: the 100 ms bins holding them (ms from the phase's
start: count), for runs without a trace.

usage: tailwhen.py LATLOG_PREFIX...
"""
import sys, collections
for pre in sys.argv[1:]:
    marks, lat = {}, []
    for line in open(pre + '.client'):
        f = line.split()
        if f[0] == 'mark': marks[f[1]] = int(f[2])
        elif f[0] == 'msg' and f[1] == '1' and f[7] != '0': lat.append((int(f[4]), int(f[7]) - int(f[4])))
    t0 = marks['fixed1']
    ls = sorted(l for _, l in lat)
    p99 = ls[len(ls) * 99 // 100]
    bins = collections.Counter(int((d - t0) / 1e8) * 100 for d, l in lat if l >= p99)
    top = sorted(bins.items())
    print(f"{pre}: p99 {p99/1e6:.1f} ms; tail by 100 ms bin: " + ", ".join(f"{b}:{n}" for b, n in top))

#!/usr/bin/env python3
"""tls-16h: the flood phase's worst stall episodes, 10 ms by 10 ms: the
messages due then (their latency and parts), and what the scheduler says
each process's threads did (schedstat deltas: ms on a CPU, ms waiting
on a run queue), the server's handler (shard) threads apart.

usage: episodes.py PREFIX [N episodes]
"""
import sys, collections

pre = sys.argv[1]
neps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
marks, cl, sv = {}, {}, {}
sgc, cgc = [], []
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'mark': marks[f[1]] = int(f[2])
    elif f[0] == 'msg': cl[tuple(map(int, f[1:4]))] = tuple(map(int, f[4:]))
    elif f[0] == 'gcpause': cgc.append((int(f[1]), int(f[2])))
shard = set()
for line in open(pre + '.server'):
    f = line.split()
    if f[0] == 'srv':
        v = list(map(int, f[1:]))
        sv[tuple(v[:3])] = (v[5], v[6]); shard.add(v[4])
    elif f[0] == 'gcpause': sgc.append((int(f[1]), int(f[2])))
roles, ss = {}, collections.defaultdict(list)
for line in open(pre + '.sched'):
    f = line.split()
    if f[0] == 'role': roles[int(f[1])] = f[2]
    elif f[0] == 'ss':
        at, pid, tid, run, dl = map(int, f[1:])
        ss[at].append((pid, tid, run, dl))
ats = sorted(ss)
rows = []
for key, (due, w0, w1, got) in cl.items():
    if key[0] != 1 or got == 0 or key not in sv: continue
    tin, tout = sv[key]
    rows.append((due, got - due, w0 - due, tin - w1, got - tout))
rows.sort()
lats = sorted(r[1] for r in rows)
p99 = lats[len(lats) * 99 // 100]
# episodes: runs of messages >= p99 whose due times are within 5 ms
tail = [r for r in rows if r[1] >= p99]
eps, cur = [], [tail[0]]
for r in tail[1:]:
    if r[0] - cur[-1][0] > 5e6: eps.append(cur); cur = [r]
    else: cur.append(r)
eps.append(cur)
eps.sort(key=lambda e: -max(r[1] for r in e))
t0 = marks['fixed1']

def sched_delta(a, b):
    """per role (and 'shard'): ms run, ms waiting, between samples a and b"""
    out = collections.defaultdict(lambda: [0.0, 0.0])
    prev = {(p, t): (r, d) for p, t, r, d in ss[a]}
    for p, t, r, d in ss[b]:
        if (p, t) not in prev: continue
        r0, d0 = prev[(p, t)]
        role = 'shard' if t in shard else roles.get(p, '?')
        out[role][0] += (r - r0) / 1e6; out[role][1] += (d - d0) / 1e6
        if t in shard: out['server'][0] += (r - r0) / 1e6; out['server'][1] += (d - d0) / 1e6
    return out

print(f"p99 {p99/1e6:.1f} ms; {len(eps)} episodes; the {neps} worst:")
for e in eps[:neps]:
    a, b = e[0][0] - 30e6, e[-1][0] + 40e6
    print(f"\nepisode due {(e[0][0]-t0)/1e6:.1f}..{(e[-1][0]-t0)/1e6:.1f} ms after the phase's start, worst {max(r[1] for r in e)/1e6:.1f} ms")
    print("  window(ms)  msgs  maxlat  max(late  up  down) ms | server(all) run/wait | shard run/wait | client run/wait | flooder run/wait | ksoftirqd run/wait (ms per ~10 ms)")
    for x, y in zip(ats, ats[1:]):
        if y < a or x > b: continue
        ms = [r for r in rows if x <= r[0] < y]
        d = sched_delta(x, y)
        gcs = ' S-GC' if any(x <= t < y for t, _ in sgc) else ''
        gcc = ' C-GC' if any(x <= t < y for t, _ in cgc) else ''
        ml = max((r[1] for r in ms), default=0) / 1e6
        mx = [max((r[i] for r in ms), default=0) / 1e6 for i in (2, 3, 4)]
        print(f"  {(x-t0)/1e6:7.1f}+{(y-x)/1e6:4.1f} {len(ms):4d} {ml:6.1f}  {mx[0]:5.1f} {mx[1]:5.1f} {mx[2]:5.1f}    | "
              f"{d['server'][0]:5.1f}/{d['server'][1]:5.1f} | {d['shard'][0]:5.1f}/{d['shard'][1]:5.1f} | "
              f"{d['client'][0]:5.1f}/{d['client'][1]:5.1f} | {d['flooder'][0]:5.1f}/{d['flooder'][1]:5.1f} | {d['?'][0]:5.1f}/{d['?'][1]:5.1f}{gcs}{gcc}")

#!/usr/bin/env python3
"""tls-16h: split each fixed-rate message's latency into where it went.

usage: decompose.py PREFIX [gctrace-file]
PREFIX.client / .server / .sched are written by BenchmarkTLSHandshakeFlood
with SHARDNET_FLOOD_LATLOG=PREFIX. Times are wall-clock ns.
Parts of a message's latency (got - due):
  late   = wrote0 - due   the client's sender started its Write late
  write  = wrote1 - wrote0 the client's Write (TLS encrypt, syscall)
  up     = in - wrote1    until the server's echo handler ran (kernel, shard's wait)
  srv    = out - in       the handler (decrypt done before; echo write)
  down   = got - out      until the client's reader had it (kernel, client's reader wake)
"""
import sys, collections

pre = sys.argv[1]
marks, cl, sv = {}, {}, {}
cgc, sgc = [], []
for line in open(pre + '.client'):
    f = line.split()
    if f[0] == 'mark': marks[f[1]] = int(f[2])
    elif f[0] == 'msg':
        ph, k, i, due, w0, w1, got = map(int, f[1:])
        cl[(ph, k, i)] = (due, w0, w1, got)
    elif f[0] == 'gcpause': cgc.append((int(f[1]), int(f[2])))
tids = collections.Counter()
for line in open(pre + '.server'):
    f = line.split()
    if f[0] == 'srv':
        ph, k, i, n, tid, tin, tout = map(int, f[1:])
        sv[(ph, k, i)] = (tin, tout, n, tid)
        tids[tid] += 1
    elif f[0] == 'gcpause': sgc.append((int(f[1]), int(f[2])))

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else 0

for ph in (0, 1):
    end = marks['fixed1-end'] if ph == 1 else marks['fixed1']
    rows = []
    for key, (due, w0, w1, got) in cl.items():
        if key[0] != ph or got == 0 or key not in sv: continue
        tin, tout, n, tid = sv[key]
        rows.append(dict(key=key, due=due, lat=got - due, late=w0 - due, write=w1 - w0,
                         up=tin - w1, srv=tout - tin, down=got - tout, n=n, tid=tid))
    if not rows: continue
    unm = sum(1 for key, v in cl.items() if key[0] == ph and v[3] and key not in sv)
    p99 = pct([r['lat'] for r in rows], 99)
    print(f"phase {ph} ({'flood' if ph else 'unloaded'}): {len(rows)} messages matched ({unm} not seen by the server's log), p50 {pct([r['lat'] for r in rows],50)/1e3:.0f} us, p99 {p99/1e3:.0f} us")
    print("  part     p50 us    p90 us    p99 us    max us   | mean us over the messages >= p99")
    tail = [r for r in rows if r['lat'] >= p99]
    for part in ('lat', 'late', 'write', 'up', 'srv', 'down'):
        xs = [r[part] for r in rows]
        m = sum(r[part] for r in tail) / len(tail)
        print(f"  {part:6s} {pct(xs,50)/1e3:9.0f} {pct(xs,90)/1e3:9.0f} {pct(xs,99)/1e3:9.0f} {max(xs)/1e3:9.0f}   | {m/1e3:9.0f}")
    # which part dominates each tail message
    dom = collections.Counter(max(('late', 'write', 'up', 'srv', 'down'), key=lambda p: r[p]) for r in tail)
    print("  the largest part of each message >= p99:", dict(dom))
    # tail messages' due times, clustered into episodes (gap > 5 ms)
    ts = sorted(r['due'] for r in tail)
    eps, cur = [], [ts[0]]
    for t in ts[1:]:
        if t - cur[-1] > 5e6: eps.append(cur); cur = [t]
        else: cur.append(t)
    eps.append(cur)
    t0 = marks['fixed1'] if ph == 1 else marks['fixed0']
    print(f"  tail episodes (due times, ms from phase start): {len(eps)}")
    for e in eps[:12]:
        a, b = e[0], e[-1]
        near_s = [(t - a) / 1e6 for t, d in sgc if a - 50e6 <= t <= b + 50e6]
        near_c = [(t - a) / 1e6 for t, d in cgc if a - 50e6 <= t <= b + 50e6]
        print(f"    {(a - t0)/1e6:8.1f} .. {(b - t0)/1e6:8.1f}  {len(e):4d} msgs; server GC pause ends at {['%.1f'%x for x in near_s]} ms, client's at {['%.1f'%x for x in near_c]} ms (from episode start)")
print("server handler threads (tid: tagged messages):", dict(tids))

#!/usr/bin/env python3
"""Paired A/B of rpc-server builds at a fixed rate (loopback).

Each round runs every variant once, in a rotated order: the server on CPU 0,
rpc-bench on CPU 1 (16 connections x 4 in flight, as peer-rpc-compare's
fixed-rate runs), the same client binary for all. Over the run less its first
1 s and last 0.5 s it takes the server process's CPU time and CPU 0's busy
time, and divides both by the calls in that window, rate x window (the client's summary, shown
beside each run, says whether it kept the rate). Process CPU is the sum of
its threads' schedstat run time (ns); CPU 0's busy time is the wall time less
its cpuidle residencies (us), as benchmarks/internal/procstat reads it.

usage: ab.py [-together] -client DIR -rate R -size S -rounds N -duration SEC \
             NAME=DIR[:ENV=VAL,...] ...
A variant DIR holds the server's `shardnet` (or `peer-c` for NAME c...).
With -together every round runs all the variants at once instead, each at
its share of the rate (run_together): a change of a few per cent shows there
where back-to-back runs drown it in their spread.
Prints per-run figures and, for each variant after the first, the ratio
variant / first, paired per round, median (min-max).
"""
import argparse, os, re, statistics, subprocess, sys, time



def proc_cpu(pid):
    """The run time of the process's live threads (schedstat, ns), in s."""
    t = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
                t += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return t / 1e9


IDLE = [f'/sys/devices/system/cpu/cpu0/cpuidle/{s}/time'
        for s in sorted(os.listdir('/sys/devices/system/cpu/cpu0/cpuidle')) if s.startswith('state')]


def core0():
    """CPU 0's busy time so far, less a constant: -(idle residency), in s."""
    return -sum(int(open(p).read()) for p in IDLE) / 1e6


def run(variant, a):
    name, d, env = variant
    e = dict(os.environ)
    e.update(env)
    if name.startswith('c'):
        srv = ['taskset', '-c', '0', f'{d}/peer-c', '-mode', 'rpc', '-addr', '127.0.0.1:7398']
    else:
        srv = ['taskset', '-c', '0', f'{d}/shardnet', 'rpc-server', '-addr', '127.0.0.1:7398', '-shards', '1']
    sp = subprocess.Popen(srv, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        cl = subprocess.Popen(['taskset', '-c', '1', f'{a.client}/shardnet', 'rpc-bench', '-addr', '127.0.0.1:7398',
                               '-shards', '1', '-c', '16', '-inflight', '4', '-size', str(a.size),
                               '-duration', f'{a.duration}s', '-rate', str(a.rate)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0)
        t0, p0, c0 = time.monotonic(), proc_cpu(sp.pid), core0()
        time.sleep(a.duration - 1.5)
        t1, p1, c1 = time.monotonic(), proc_cpu(sp.pid), core0()
        out, _ = cl.communicate()
    finally:
        sp.terminate()
        sp.wait()
    calls = a.rate * (t1 - t0)
    m = re.search(r'errors[^0-9]*(\d+)', out.splitlines()[-1] if out else '')
    kept = 'calls/s' in out
    summ = [l for l in out.splitlines() if 'calls' in l and 'p99' in l.lower()] or out.splitlines()[-3:]
    return (p1 - p0) / calls * 1e6, ((t1 - t0) + (c1 - c0)) / calls * 1e6, ' | '.join(s.strip() for s in summ)[:160]


def run_together(vs, a):
    """Every variant at once, each with its own client at a/len(vs) of the
    rate, all servers on CPU 0 and all clients on CPU 1: whatever else the
    machine does in that window falls on every variant alike. Returns
    {name: (server us/call, '')}; CPU 0's busy time is shared, so no core
    figure."""
    rate = a.rate // len(vs)
    srvs, cls = [], []
    try:
        for i, (name, d, env) in enumerate(vs):
            e = dict(os.environ)
            e.update(env)
            addr = f'127.0.0.1:{7398 + i}'
            if name.startswith('c'):
                argv = ['taskset', '-c', '0', f'{d}/peer-c', '-mode', 'rpc', '-addr', addr]
            else:
                argv = ['taskset', '-c', '0', f'{d}/shardnet', 'rpc-server', '-addr', addr, '-shards', '1']
            srvs.append(subprocess.Popen(argv, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        for i, v in enumerate(vs):
            cls.append(subprocess.Popen(['taskset', '-c', '1', f'{a.client}/shardnet', 'rpc-bench', '-addr', f'127.0.0.1:{7398 + i}',
                                         '-shards', '1', '-c', '16', '-inflight', '4', '-size', str(a.size),
                                         '-duration', f'{a.duration}s', '-rate', str(rate)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        time.sleep(1.0)
        t0, p0 = time.monotonic(), [proc_cpu(sp.pid) for sp in srvs]
        time.sleep(a.duration - 1.5)
        t1, p1 = time.monotonic(), [proc_cpu(sp.pid) for sp in srvs]
        outs = [cl.communicate()[0] for cl in cls]
    finally:
        for sp in srvs:
            sp.terminate()
            sp.wait()
    calls = rate * (t1 - t0)
    res = {}
    for i, (name, _, _) in enumerate(vs):
        last = [l for l in outs[i].splitlines() if l.startswith('calls:')]
        res[name] = ((p1[i] - p0[i]) / calls * 1e6, (last or ['?'])[0][:80])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-client', required=True)
    ap.add_argument('-rate', type=int, default=26000)
    ap.add_argument('-size', type=int, default=64)
    ap.add_argument('-rounds', type=int, default=5)
    ap.add_argument('-duration', type=float, default=4.0)
    ap.add_argument('-together', action='store_true', help='run the variants at the same time (see run_together)')
    ap.add_argument('variants', nargs='+')
    a = ap.parse_args()
    vs = []
    for v in a.variants:
        name, rest = v.split('=', 1)
        d, _, envs = rest.partition(':')
        env = dict(x.split('=', 1) for x in envs.split(',') if x)
        vs.append((name, d, env))
    res = {v[0]: [] for v in vs}
    for r in range(a.rounds):
        order = vs[r % len(vs):] + vs[:r % len(vs)]
        if a.together:
            for name, (srv, note) in run_together(order, a).items():
                res[name].append((srv, srv))
                print(f'round {r+1} {name:>12}: server {srv:6.2f} us/call   [{note}]', flush=True)
            continue
        for v in order:
            srv, core, note = run(v, a)
            res[v[0]].append((srv, core))
            print(f'round {r+1} {v[0]:>12}: server {srv:6.2f} us/call, core {core:6.2f} us/call   [{note}]', flush=True)
    print(f'\n{a.size} B at {a.rate}/s, {a.rounds} rounds x {a.duration}s; medians (min-max)')
    base = vs[0][0]
    for name, _, _ in vs:
        if a.together:  # CPU 0 is shared: no core figure of its own
            s = [x[0] for x in res[name]]
            line = f'{name:>12}: server {statistics.median(s):6.2f} ({min(s):.2f}-{max(s):.2f}) us/call'
            if name != base:
                rs = [x[0] / y[0] for x, y in zip(res[name], res[base])]
                line += f'; / {base}: server {statistics.median(rs):.3f} ({min(rs):.3f}-{max(rs):.3f})'
            print(line)
            continue
        s = [x[0] for x in res[name]]
        c = [x[1] for x in res[name]]
        line = f'{name:>12}: server {statistics.median(s):6.2f} ({min(s):.2f}-{max(s):.2f}) us/call, core {statistics.median(c):6.2f} ({min(c):.2f}-{max(c):.2f})'
        if name != base:
            rs = [x[0] / y[0] for x, y in zip(res[name], res[base])]
            rc = [x[1] / y[1] for x, y in zip(res[name], res[base])]
            line += f'; / {base}: server {statistics.median(rs):.3f} ({min(rs):.3f}-{max(rs):.3f}), core {statistics.median(rc):.3f} ({min(rc):.3f}-{max(rc):.3f})'
        print(line)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""pair.py SAMPLES.json...: paired ratios from cmd/bench samples for the io_uring study (issue 21).

For each echo cell, A ÷ B within each round, median (min–max) over the rounds:
core CPU per message at fixed rates (echo-rate), msgs/s at saturation (echo).
Peers: shardnet (epoll engine), uring (cmd/peer-shardnet-uring), c (c/peer.c),
c_uring (c/peer-uring.c). Paired ratios from bench samples.json files: for each cell, A ÷ B within each round,
median (min–max) over rounds, for core CPU/msg (fixed rate) or msgs/s (saturation)."""
import json, sys, statistics, collections
files = sys.argv[1:]
S = []
for i, f in enumerate(files):
    for s in json.load(open(f))['samples']:
        s['run'] = i
        S.append(s)
by = collections.defaultdict(dict)
for s in S:
    if s['suite'] not in ('echo', 'echo-rate') or s['errors']:
        continue
    by[(s['suite'], s['cell'])][(s['run'], s['round'], s['peer'])] = s
peers = ['shardnet', 'uring', 'c', 'c_uring']
def med(v): return statistics.median(v) if v else float('nan')
def fmt(v): return '%.2f× (%.2f–%.2f)' % (med(v), min(v), max(v)) if v else '–'
pairs = [('uring', 'shardnet'), ('uring', 'c'), ('c_uring', 'c'), ('uring', 'c_uring'), ('shardnet', 'c')]
def order(k):
    suite, cell = k
    return (cell.split(' @')[0], suite, cell)
print('| cell | figure | shardnet | uring | c | c_uring | uring ÷ shardnet | uring ÷ c | c_uring ÷ c | uring ÷ c_uring | shardnet ÷ c | rounds |')
print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for key in sorted(by, key=order):
    suite, cell = key
    d = by[key]
    fig = 'core_cpu_per_msg_ns' if suite == 'echo-rate' else 'rate'
    figname = 'core ns/msg · srv ns/msg' if fig != 'rate' else 'msgs/s'
    rounds = sorted({(r, rd) for (r, rd, p) in d})
    row = [cell, suite]
    meds = []
    for p in peers:
        v = [d[(r, rd, p)][fig] for (r, rd) in rounds if (r, rd, p) in d and d[(r, rd, p)][fig] > 0]
        sv = [d[(r, rd, p)]['server_cpu_per_msg_ns'] for (r, rd) in rounds if (r, rd, p) in d]
        meds.append(('%.0f' % med(v) if fig != 'rate' else '%.0fk' % (med(v)/1000)) + (' · %.0f' % med(sv) if fig != 'rate' and sv else ''))
    rat = []
    for a, b in pairs:
        v = []
        for (r, rd) in rounds:
            if (r, rd, a) in d and (r, rd, b) in d and d[(r, rd, a)][fig] > 0 and d[(r, rd, b)][fig] > 0:
                v.append(d[(r, rd, a)][fig] / d[(r, rd, b)][fig])
        rat.append(fmt(v))
    notes = sorted({'%s: %s' % (p, d[(r, rd, p)]['note']) for (r, rd, p) in d if d[(r, rd, p)].get('note')})
    print('| %s | %s | %s | %s | %d |%s' % (cell, figname, ' | '.join(meds), ' | '.join(rat), len(rounds), (' ' + '; '.join(notes)) if notes else ''))


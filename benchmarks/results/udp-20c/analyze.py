import json, sys, statistics as st
d = json.load(open(sys.argv[1]))['samples']
by = {}
for s in d:
    by.setdefault((s['suite'], s['cell']), {}).setdefault(s['peer'], {})[s['round']] = s
go = ['net', 'gnet', 'nbio']
def med(xs): return st.median(xs) if xs else float('nan')
for (suite, cell), peers in sorted(by.items()):
    rate_suite = suite == 'udp-rate'
    metrics = [('core_cpu_per_msg_ns', 'core CPU/dgram', True), ('server_cpu_per_msg_ns', 'server CPU/dgram', True)] if rate_suite else [('rate', 'datagrams/s', False), ('server_cpu_per_msg_ns', 'server CPU/dgram', True)]
    print(f'\n### {suite} · {cell}')
    for key, label, lower in metrics:
        meds = {p: med([r[key] for r in rs.values()]) for p, rs in peers.items()}
        offered = med([r.get('rate') for r in peers.get('net', {}).values()]) if rate_suite else None
        best = (min if lower else max)((p for p in go if p in meds), key=lambda p: meds[p])
        line = f'{label}: ' + ', '.join(f'{p} {meds[p]:.0f}' for p in peers)
        print(line)
        for subj in ['shardnet', 'rt', 'base', 'basert']:
            if subj not in peers: continue
            ratios = [peers[subj][r][key] / peers[best][r][key] for r in sorted(peers[subj]) if r in peers[best]]
            print(f'  {subj} ÷ {best}: {med(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) rounds ' + ', '.join(f'{x:.2f}' for x in ratios))
        for a, b in [('shardnet', 'base'), ('rt', 'basert'), ('rt', 'shardnet')]:
            if a in peers and b in peers:
                ratios = [peers[a][r][key] / peers[b][r][key] for r in sorted(peers[a]) if r in peers[b]]
                print(f'  {a} ÷ {b}: {med(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})')
    if rate_suite:
        print('  achieved rate: ' + ', '.join(f"{p} {med([r['rate'] for r in rs.values()]):.0f}" for p, rs in peers.items()))

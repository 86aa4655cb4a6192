#!/usr/bin/env python3
"""tls-16m: one-P runs (pinned/share=0.5) of a build against base, paired in
the order run.sh interleaved them: per pair, new/base of the flood p99, the
closed loop's flood rate and the flights; then medians over all pairs.

usage: paired.py RUN/NEW.txt:RUN/BASE.txt...
"""
import sys, re, statistics as st
def load(p):
    out = []
    for l in open(p):
        if l.startswith('BenchmarkTLSHandshakeFlood/pinned'):
            f = l.split()[4:]
            out.append({f[i + 1]: float(f[i]) for i in range(0, len(f) - 1, 2)})
    return out
keys = ('fixed-p99-ratio', 'closed-p99-ratio', 'closed-rate-ratio', 'fixed-flood-p99-µs', 'closed-flood-p99-µs',
        'closed-flood-trips/s', 'fixed-flights/s', 'closed-flights/s', 'fixed-refused/s')
N, B = [], []
for arg in sys.argv[1:]:
    a, b = arg.split(':')
    N += load(a); B += load(b)
for name, v in (('new', N), ('base', B)):
    for k in keys:
        xs = [m[k] for m in v]
        print(f"{name:4s} {k:22s} median {st.median(xs):9.3f}  range {min(xs):.3f}-{max(xs):.3f}  (n={len(xs)})")
for k in ('fixed-flood-p99-µs', 'closed-flood-p99-µs', 'closed-flood-trips/s', 'fixed-flights/s', 'closed-flights/s'):
    rs = [a[k] / c[k] for a, c in zip(N, B)]
    print(f"paired new/base {k:22s} median {st.median(rs):.3f}  range {min(rs):.2f}-{max(rs):.2f}  per pair: {' '.join(f'{r:.2f}' for r in rs)}")

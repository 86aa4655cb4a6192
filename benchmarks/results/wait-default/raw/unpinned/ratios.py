import sys, statistics as st, collections
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 9 or not f[0].startswith('r'): continue
    r, kind, w, size, pl = f[0], f[1], f[2], f[3], f[4]
    rows[(size + 'B x' + pl, kind)].setdefault(r, {})[w] = (float(f[6]), float(f[7]), float(f[8]))
def fmt(v): return "%.2f× (%.2f–%.2f)" % (st.median(v), min(v), max(v))
print("| cell | rounds | rate rt÷sc | CPU/msg rt÷sc | p99 rt÷sc | p99 medians rt / sc (µs) |")
print("|---|---:|---|---|---|---|")
for (cell, kind), rs in rows.items():
    rr, cr, pr, prt, psc = [], [], [], [], []
    for r, d in rs.items():
        if 'runtime' in d and 'syscall' in d:
            a, b = d['runtime'], d['syscall']
            rr.append(a[0]/b[0]); cr.append(a[1]/b[1]); pr.append(a[2]/b[2]); prt.append(a[2]); psc.append(b[2])
    print("| %s %s | %d | %s | %s | %s | %.0f / %.0f |" % (cell, kind, len(rr), fmt(rr), fmt(cr), fmt(pr), st.median(prt), st.median(psc)))

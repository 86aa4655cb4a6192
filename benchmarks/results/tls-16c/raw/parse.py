import sys
keys=['closed-flood-phase-s','fixed-flood-phase-s','closed-unloaded-p99-µs','closed-flood-p99-µs','closed-p99-ratio','closed-unloaded-trips/s','closed-flood-trips/s','closed-rate-ratio','closed-flights/s','closed-refused/s','closed-unopened/s','closed-flood-conns/s','fixed-offered/s','fixed-unloaded-p99-µs','fixed-flood-p99-µs','fixed-p99-ratio','fixed-unloaded-trips/s','fixed-flood-trips/s','fixed-rate-ratio','fixed-flights/s','fixed-refused/s','fixed-unopened/s','fixed-flood-conns/s']
for fn in sys.argv[1:]:
    print("==", fn)
    for line in open(fn):
        if not line.startswith("Benchmark"): continue
        f=line.split(); d={}
        for i in range(2,len(f)-1,2): d[f[i+1]]=f[i]
        print(f[0].split('/')[1], ' '.join(k.replace('closed-','c:').replace('fixed-','f:').replace('unloaded','un')+'='+d.get(k,'?') for k in keys))

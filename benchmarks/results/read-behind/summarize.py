import re,sys,statistics as st,collections
rows=collections.defaultdict(dict)
for line in open(sys.argv[1]):
    m=re.match(r'round (\d+) size (\d+)\s+(\S+)\s+calls/s\s+(\d+) errors (\d+) reads/call (\S+) writes/call (\S+) cpu_us/call (\S+)',line)
    if not m: continue
    r,size,p,cps,e,rd,wr,cpu=m.groups()
    rows[(int(size),int(r))][p]=dict(cps=int(cps),rd=float(rd),wr=float(wr),cpu=float(cpu),e=int(e))
sizes=sorted({k[0] for k in rows},reverse=True)
med=st.median
print("| size | server | calls/s | reads/call | writes/call | server CPU µs/call |")
print("|---:|---|---:|---:|---:|---:|")
for size in sizes:
    rs=[v for k,v in sorted(rows.items()) if k[0]==size]
    for p in ('shardnet-base','shardnet-new','c'):
        print(f"| {size} | {p} | {med([x[p]['cps'] for x in rs]):.0f} | {med([x[p]['rd'] for x in rs]):.3f} | {med([x[p]['wr'] for x in rs]):.3f} | {med([x[p]['cpu'] for x in rs]):.3f} |")
print()
print("| size | ratio | calls/s, paired median (min–max) | server CPU/call |")
print("|---:|---|---:|---:|")
for size in sizes:
    rs=[v for k,v in sorted(rows.items()) if k[0]==size]
    for a,b in (('shardnet-new','shardnet-base'),('shardnet-new','c'),('shardnet-base','c')):
        rr=[x[a]['cps']/x[b]['cps'] for x in rs]; cc=[x[a]['cpu']/x[b]['cpu'] for x in rs]
        print(f"| {size} | {a} ÷ {b} | **{med(rr):.2f}×** ({min(rr):.2f}–{max(rr):.2f}) | **{med(cc):.2f}×** ({min(cc):.2f}–{max(cc):.2f}) |")
print(f"\nerrors in all runs: {sum(x[p]['e'] for v in rows.values() for p,x in [(q,v) for q in v] for x in [x])}" if False else "")

#!/bin/bash
# sat.sh ROUNDS "SIZES" INFLIGHT: tools/rpc servers (base and new builds of shardnet rpc-server,
# and the C peer) pinned on CPU 0, shardnet rpc-bench (the base build) on CPU 1 at full speed,
# 16 connections; per run: calls/s, server reads/writes per call and server CPU µs per call
# over the middle 2 s of a 4 s run. The order of the three rotates each round.
R=${1:-5}; SIZES=${2:-"4096 1024 64"}; INF=${3:-16}
B=/tmp/rb; PORT=7395; hz=$(getconf CLK_TCK)
peers=(shardnet-base shardnet-new c)
echo "# $(date -u +%FT%TZ) rounds=$R sizes=$SIZES inflight=$INF load=$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 $R); do
 for size in $SIZES; do
  for k in 0 1 2; do
   p=${peers[$(( (k + r) % 3 ))]}
   case $p in
    c) taskset -c 0 $B/peer-c -mode rpc -addr 127.0.0.1:$PORT > $B/srv.out 2>&1 & ;;
    *) taskset -c 0 $B/$p rpc-server -addr 127.0.0.1:$PORT -shards 1 > $B/srv.out 2>&1 & ;;
   esac
   SP=$!
   for i in $(seq 1 50); do grep -q listening $B/srv.out && break; sleep 0.1; done
   taskset -c 1 $B/shardnet-base rpc-bench -addr 127.0.0.1:$PORT -shards 1 -c 16 -inflight $INF -size $size -duration 4s -json > $B/cl.json 2>/dev/null &
   CP=$!
   sleep 1
   s0=$(awk '/syscr|syscw/{printf "%s ",$2}' /proc/$SP/io); read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u0 t0 _ < /proc/$SP/stat; w0=$(date +%s.%N)
   sleep 2
   s1=$(awk '/syscr|syscw/{printf "%s ",$2}' /proc/$SP/io); read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u1 t1 _ < /proc/$SP/stat; w1=$(date +%s.%N)
   wait $CP
   kill -TERM $SP; wait $SP 2>/dev/null
   cps=$(python3 -c 'import json; d=json.load(open("/tmp/rb/cl.json")); print(round(d["calls_per_sec"]), d["errors"])')
   python3 - $r $size $p "$cps" "$s0" "$s1" $u0 $t0 $u1 $t1 $w0 $w1 $hz <<'PY'
import sys
r,size,p=sys.argv[1:4]; cps,errs=map(int,sys.argv[4].split()); s0,s1=[list(map(int,x.split())) for x in sys.argv[5:7]]
u0,t0,u1,t1=map(int,sys.argv[7:11]); w0,w1=map(float,sys.argv[11:13]); hz=int(sys.argv[13])
n=cps*(w1-w0)
print(f"round {r} size {size:5s} {p:14s} calls/s {cps:7d} errors {errs} reads/call {(s1[0]-s0[0])/n:.3f} writes/call {(s1[1]-s0[1])/n:.3f} cpu_us/call {((u1+t1)-(u0+t0))/hz*1e6/n:.3f}")
PY
  done
 done
done

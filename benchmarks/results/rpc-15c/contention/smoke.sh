#!/bin/bash
# smoke: rpc-server on CPU 0 with N busy-loop hogs on CPU 0, client on CPU 1
# usage: smoke.sh MODE HOGS RATE [extra env...]
mode=$1; hogs=$2; rate=$3; shift 3
port=$((7400 + RANDOM % 500))
env SHARDNET_WAIT=$mode "$@" taskset -c 0 /tmp/rpc15/c/shardnet rpc-server -shards 1 -addr 127.0.0.1:$port >/tmp/rpc15/c/srv.out 2>&1 &
srv=$!
sleep 0.3
hp=""
HOG=${HOG:-"while :; do :; done"}
for k in $(seq 1 $hogs); do taskset -c 0 sh -c "$HOG" & hp="$hp $!"; done
for k in $(seq 1 ${CHOGS:-0}); do taskset -c 1 sh -c "$HOG" & hp="$hp $!"; done
sleep 0.2
taskset -c 1 /tmp/rpc15/c/shardnet rpc-bench -addr 127.0.0.1:$port -shards 1 -rate $rate -c 16 -inflight 4 -duration 3s -json > /tmp/rpc15/c/cli.out 2>/dev/null &
cli=$!
sleep 2.9
crun=0; cwt=0; for t in /proc/$cli/task/*; do read a b c < $t/schedstat; crun=$((crun+a)); cwt=$((cwt+b)); done
wait $cli
for t in /proc/$srv/task/*; do echo "  thr $(basename $t) $(cat $t/schedstat) $(cat $t/comm)"; done > /tmp/rpc15/c/thr.txt; ps -eLo psr,pcpu,pid,comm --sort=-pcpu | awk '$1==0' | head -8 > /tmp/rpc15/c/cpu0.txt
run=0; wt=0; sl=0; for t in /proc/$srv/task/*; do read a b c < $t/schedstat; run=$((run+a)); wt=$((wt+b)); sl=$((sl+c)); done
nthr=$(ls /proc/$srv/task | wc -l)
[ -n "$hp" ] && kill $hp
kill $srv; wait $srv 2>/dev/null
python3 - "$mode" "$hogs" "$run" "$wt" "$nthr" "$sl" "$crun" "$cwt" <<'PY'
import json,sys,os
d=json.load(open('/tmp/rpc15/c/cli.out'))
m,h,run,wt,n,sl,cr,cw=sys.argv[1:]
print('%-8s hogs=%s/%s srv run=%.2fs rqwait=%.2fs slices=%s thr=%s cli run=%.2fs rqwait=%.2fs'%(m,h,os.environ.get('CHOGS','0'),int(run)/1e9,int(wt)/1e9,sl,n,int(cr)/1e9,int(cw)/1e9),
 'cps=%.0f (%.1f%%) p50=%.0fus p99=%.0fus'%(d['calls_per_sec'],100*d['calls_per_sec']/d['rate'],d['latency_us']['p50'],d['latency_us']['p99']))
PY

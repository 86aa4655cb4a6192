#!/bin/bash
# run1.sh WAIT SIZE PIPELINE RATE(0=saturate): peer-shardnet echo, 2 loops, GOMAXPROCS unset (2), nothing pinned;
# shardnet bench -shards 2 -c 100, 3 s, nothing pinned. Prints: wait size pl rate got_ps cpu_ns/msg p99_us.
B=/work/wt-wait8/benchmarks/bin
w=$1; size=$2; pl=$3; rate=$4
o=/tmp/w8/unp/o; mkdir -p $o
port=$((28000 + RANDOM % 1000))
env SHARDNET_WAIT=$w ${SRVENV:-X=1} $B/peer-shardnet -mode echo -addr 127.0.0.1:$port -loops 2 > $o/srv.txt 2>&1 &
sp=$!
for i in $(seq 50); do grep -q ready $o/srv.txt 2>/dev/null && break; sleep 0.05; done
ra=""; [ $rate -gt 0 ] && ra="-rate $rate"
$B/shardnet bench -addr 127.0.0.1:$port -c 100 -size $size -pipeline $pl -duration 3s -shards 2 -json $ra > $o/cl.json 2>$o/cl.err &
cp=$!
sleep 0.5
t0=$(awk '{print $14+$15}' /proc/$sp/stat); s0=$(date +%s%N); for t in /proc/$sp/task/*; do echo "$(basename $t) $(cat $t/schedstat)"; done > $o/th0
sleep 2
t1=$(awk '{print $14+$15}' /proc/$sp/stat); s1=$(date +%s%N); for t in /proc/$sp/task/*; do echo "$(basename $t) $(cat $t/schedstat)"; done > $o/th1
wait $cp
kill $sp; wait $sp 2>/dev/null
jq -r --arg w $w --arg s $size --arg p $pl --arg r $rate --arg cpu $((t1-t0)) --arg ns $((s1-s0)) \
  '"\($w) \($s) \($p) \($r) \(.msgs_per_sec|floor) \(($cpu|tonumber)*10000000/(.msgs_per_sec*(($ns|tonumber)/1e9))|floor) \(.latency_us.p99) errors=\(.errors)"' $o/cl.json
m=$(jq -r '.msgs_per_sec*2' $o/cl.json)
join $o/th0 $o/th1 | awk -v m=$m '{r=$5-$2; w=$6-$3; s=$7-$4; if (s>0) {n++; R+=r; W+=w; S+=s}} END {printf "   threads active %d, run %.0f ns/msg, run-queue wait %.0f ns/msg, slices %.4f/msg, rq-wait per slice %.1f us\n", n, R/m, W/m, S/m, W/S/1000}'

#!/bin/bash
# run1.sh MODE SIZE PIPELINE: echo server with 2 loops, GOMAXPROCS 2, unpinned; client shardnet bench -shards 2 -c 100, 3 s, saturated.
# MODE: syscall | runtime | nudge (runtime + SHARDNET_NUDGE=1). Prints: mode size pl msgs/s cpu_ns/msg p99_us
S=/tmp/nudge/peer-shardnet; C=/work/main/benchmarks/bin/shardnet
m=$1; size=$2; pl=$3
case $m in syscall) env="SHARDNET_WAIT=syscall";; runtime) env="SHARDNET_WAIT=runtime";; nudge) env="SHARDNET_WAIT=runtime SHARDNET_NUDGE=1";; esac
o=/tmp/nudge/o; mkdir -p $o
port=$((29000 + RANDOM % 1000))
env $env $S -mode echo -addr 127.0.0.1:$port -loops 2 > $o/srv.txt 2>&1 &
sp=$!
for i in $(seq 50); do grep -q ready $o/srv.txt 2>/dev/null && break; sleep 0.05; done
$C bench -addr 127.0.0.1:$port -c 100 -size $size -pipeline $pl -duration 3s -shards 2 -json > $o/cl.json 2>$o/cl.err &
cp=$!
sleep 0.5
t0=$(awk '{print $14+$15}' /proc/$sp/stat); s0=$(date +%s%N)
sleep 2
t1=$(awk '{print $14+$15}' /proc/$sp/stat); s1=$(date +%s%N)
wait $cp
kill $sp; wait $sp 2>/dev/null
jq -r --arg w $m --arg s $size --arg p $pl --arg cpu $((t1-t0)) --arg ns $((s1-s0)) \
  '"\($w) \($s) \($p) \(.msgs_per_sec|floor) \(($cpu|tonumber)*10000000/(.msgs_per_sec*(($ns|tonumber)/1e9))|floor) \(.latency_us.p99) errors=\(.errors)"' $o/cl.json

#!/bin/bash
# c1 1200B x1 (and 64B) saturated, new build against base, order alternated per round
one() { # BIN SIZE
  port=$((28000 + RANDOM % 1000))
  taskset -c 0 env GOMAXPROCS=1 $1/shardnet udp-echo -addr udp://127.0.0.1:$port -shards 1 > /dev/null 2>&1 &
  sp=$!; sleep 0.4
  t0=$(awk '{print $14+$15}' /proc/$sp/stat)
  taskset -c 1 env GOMAXPROCS=1 /work/wt-udp20/benchmarks/bin/shardnet bench -udp -addr 127.0.0.1:$port -c 1 -size $2 -pipeline 1 -shards 1 -duration 2s -udp-gso=false -json > /tmp/udp20/alt.json 2>/dev/null
  t1=$(awk '{print $14+$15}' /proc/$sp/stat)
  kill $sp; wait $sp 2>/dev/null
  r=$(jq -r .msgs_per_sec /tmp/udp20/alt.json)
  echo "$(basename $(dirname $1/x)) size=$2 rate=$r server_ns/dgram=$(python3 -c "print(round(($t1-$t0)*1e7/($r*2)))")"
}
for size in 1200 64; do
for i in 1 2 3 4 5 6; do
  if [ $((i % 2)) = 1 ]; then one /work/wt-udp20/benchmarks/bin $size; one /tmp/udp20/base $size; else one /tmp/udp20/base $size; one /work/wt-udp20/benchmarks/bin $size; fi
done
done

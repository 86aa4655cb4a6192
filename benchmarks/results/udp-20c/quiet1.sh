#!/bin/bash
B=/work/wt-udp20/benchmarks/bin
for r in 1 2; do
for size in 64 1200; do
 for v in net shardnet shardnet-rt; do
  if [ $v = shardnet-rt ]; then /tmp/udp20/smoke.sh $B shardnet 65000 $size SHARDNET_WAIT=runtime; else /tmp/udp20/smoke.sh $B $v 65000 $size; fi
 done
done
done
for v in net shardnet shardnet-rt; do
  if [ $v = shardnet-rt ]; then /tmp/udp20/smoke.sh $B shardnet 65000 64 SHARDNET_WAIT=runtime pstat; else /tmp/udp20/smoke.sh $B $v 65000 64 X=1 pstat; fi
  grep -v "^#" /tmp/udp20/pstat.txt | awk -F, 'NF>2{print "   ", $1, $3}'
done

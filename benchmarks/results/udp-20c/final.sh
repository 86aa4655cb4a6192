#!/bin/bash
cd /work/wt-udp20/benchmarks
/tmp/udp20/benchdriver -build=false -extra-peer rt=/tmp/udp20/rt -extra-peer base=/tmp/udp20/base -extra-peer basert=/tmp/udp20/basert \
  -peers net,gnet,nbio,shardnet,rt,base,basert -suites udp,udp-rate -rate-fractions 0.5 \
  -cells '^c(100 (64|1200)B x16|1 (64|1200)B x1)( @50%( in trains of 16)?)?$' \
  -duration 1500ms -rounds 4 -readme '' -out results/udp-20c/suite > results/udp-20c/suite-run.txt 2>&1
echo "driver rc=$?" >> results/udp-20c/suite-run.txt
# where the time goes, per thread and per system call (new build), spread 64 B at the 65k/s of the suite
B=$PWD/bin
for v in net shardnet shardnet-rt; do
  if [ $v = shardnet-rt ]; then /tmp/udp20/smoke.sh $B shardnet 65000 64 SHARDNET_WAIT=runtime pstat; else /tmp/udp20/smoke.sh $B $v 65000 64 X=1 pstat; fi
  grep -v "^#" /tmp/udp20/pstat.txt | awk -F, 'NF>2{print "   ", $1, $3}'
done > results/udp-20c/threads-syscalls.txt 2>&1

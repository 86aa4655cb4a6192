#!/usr/bin/env bash
# issue 16 (tls-16g): the flood benchmark, every cell, this branch's build ("yield")
# and main's (67f0421, "main") interleaved, N rounds; usage: run.sh rN N
set -u
r=$1; n=$2
out=/tmp/gate16/out/$r
mkdir -p $out
cd /work/wt-gate16/engine
for i in $(seq 1 $n); do
  date -u +"%H:%M:%S yield $i" >> $out/times
  /tmp/gate16/new.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/yield.txt 2>&1
  date -u +"%H:%M:%S main $i" >> $out/times
  /tmp/gate16/main.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/main.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

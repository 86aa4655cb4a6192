#!/usr/bin/env bash
# admission pacing (admit16) against main (a2a7489), interleaved: the shared cells and pinned share=0.5
set -u
r=$1; n=$2
out=/tmp/admit/out/$r
mkdir -p $out
cd /work/wt-admit/engine
for i in $(seq 1 $n); do
  for b in new main; do
    bin=/tmp/admit/$b.test
    date -u +"%H:%M:%S $b $i" >> $out/times
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/shared' -test.benchtime 1x >> $out/$b.txt 2>&1
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$b.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

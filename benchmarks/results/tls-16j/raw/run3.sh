#!/usr/bin/env bash
# paired, interleaved flood runs of the builds named (engine test binaries in /tmp/fl16j),
# the shared cells (two Ps; shares 0.5 and 0.25) and pinned share=0.5 (one P)
# usage: run3.sh RUN N BUILD...
set -u
r=$1; n=$2; shift 2
out=/tmp/fl16j/out/$r
mkdir -p $out
cd /work/wt-flood16/engine
for i in $(seq 1 $n); do
  for x in "$@"; do
    bin=/tmp/fl16j/$x.test
    date -u +"%H:%M:%S $x $i" >> $out/times
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/shared' -test.benchtime 1x >> $out/$x.txt 2>&1
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$x.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

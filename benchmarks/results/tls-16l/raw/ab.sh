#!/usr/bin/env bash
# tls-16l: paired, interleaved flood runs of engine test binaries in /tmp/onep16:
# pinned/share=0.5 (one P) and shared (two Ps; shares 0.5 and 0.25), plain (no diagnostics)
# usage: ab.sh RUN N A B
set -u
r=$1; n=$2; shift 2
out=/tmp/onep16/out/$r
mkdir -p $out
cd /work/wt-onep16/engine
for i in $(seq 1 $n); do
  for x in "$@"; do
    bin=/tmp/onep16/$x.test
    date -u +"%H:%M:%S $x $i" >> $out/times
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$x.txt 2>&1
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/shared' -test.benchtime 1x >> $out/$x.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

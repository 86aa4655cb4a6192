#!/usr/bin/env bash
# issue 16 (tls-16f) r4: the committed code (pauses, no idle-aware share), every cell, with the build before paired on pinned/share=0.25
set -u
out=/tmp/flood8/out/r4
mkdir -p $out
cd /work/wt-flood8/engine
for i in 1 2 3; do
  date -u +"%H:%M:%S final $i" >> $out/times
  /tmp/flood8/final.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood.txt 2>&1
  date -u +"%H:%M:%S before $i" >> $out/times
  /tmp/flood8/before.test -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.25' -test.benchtime 1x >> $out/before.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

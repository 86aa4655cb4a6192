#!/usr/bin/env bash
# issue 16 (tls-16f) r3: the pauses alone (noidle: the share never gives way to idle shards) against the final code, pinned layout
set -u
out=/tmp/flood8/out/r3
mkdir -p $out
cd /work/wt-flood8/engine
for i in 1 2 3; do
  date -u +"%H:%M:%S final $i" >> $out/times
  /tmp/flood8/new.test -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.(5|25)$' -test.benchtime 1x >> $out/flood.txt 2>&1
  date -u +"%H:%M:%S noidle $i" >> $out/times
  /tmp/flood8/noidle.test -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.(5|25)$' -test.benchtime 1x >> $out/noidle.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# issue 16 (tls-16c): the flood benchmark again, its flood rates over the phases' wall time
set -u
out=/tmp/h16hs/r3
mkdir -p $out
cd /work/wt-h16hs/engine
for t in new before new; do
  date -u +"%H:%M:%S flood $t" >> $out/times
  /tmp/h16hs/$t.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood-$t.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

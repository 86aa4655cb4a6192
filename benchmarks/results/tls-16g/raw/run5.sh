#!/usr/bin/env bash
# issue 16 (tls-16g) r5: ErrTLSBusy aborts counted toward holdTLS's pauses ("busy", new3.test) against the
# committed yield points without that ("yield2", new2.test = 6a87a63), interleaved: the shared cells and pinned share=0.5
set -u
r=$1; n=$2
out=/tmp/gate16/out/$r
mkdir -p $out
cd /work/wt-gate16/engine
for i in $(seq 1 $n); do
  for b in busy:new3 yield2:new2; do
    name=${b%%:*}; bin=/tmp/gate16/${b##*:}.test
    date -u +"%H:%M:%S $name $i" >> $out/times
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/shared' -test.benchtime 1x >> $out/$name.txt 2>&1
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$name.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# issue 16 (tls-16f): tlsconn (shardnet default 1, share 0.5 idle-aware, share 0.5 before, net/http), then the flood benchmark
set -u
r=$1; nf=$2
out=/tmp/flood8/out/$r
mkdir -p $out
cd /work/wt-flood8/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/flood8/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s \
  -peers shardnet,share05,share05old,nethttp \
  -extra-peer share05=/tmp/flood8/v05 -extra-peer share05old=/tmp/flood8/v05old \
  -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-flood8/engine
for i in $(seq 1 $nf); do
  date -u +"%H:%M:%S flood $i" >> $out/times
  /tmp/flood8/new.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood.txt 2>&1
  date -u +"%H:%M:%S before $i" >> $out/times
  /tmp/flood8/before.test -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.25' -test.benchtime 1x >> $out/before.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

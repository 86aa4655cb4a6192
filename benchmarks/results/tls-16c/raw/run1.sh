#!/usr/bin/env bash
# issue 16 (tls-16c): one measured window: tlsconn against the pre-change builds, then the flood benchmark
set -u
cd /work/wt-h16hs/benchmarks
out=/tmp/h16hs/r1
mkdir -p $out
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/h16hs/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s \
  -peers shardnet,before,noyield,nethttp,nginx,haproxy \
  -extra-peer before=bin/extra-before -extra-peer noyield=bin/extra-noyield \
  -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-h16hs/engine
for i in 1 2; do
  for t in new noyield before; do
    date -u +"%H:%M:%S flood $t round $i" >> $out/times
    /tmp/h16hs/$t.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood-$t.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

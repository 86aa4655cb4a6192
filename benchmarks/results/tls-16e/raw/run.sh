#!/usr/bin/env bash
# issue 16 (tls-16e): tlsconn (shardnet with WithHandshakeShare's default vs the build before it, net/http, nginx, HAProxy), then the flood benchmark
set -u
r=$1; nf=$2
out=/tmp/flood16/$r
mkdir -p $out
cd /work/wt-flood16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/flood16/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s \
  -peers shardnet,before,nethttp,nginx,haproxy \
  -extra-peer before=bin/extra-before \
  -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-flood16/engine
for i in $(seq 1 $nf); do
  date -u +"%H:%M:%S flood $i" >> $out/times
  /tmp/flood16/new.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# issue 16 (tls-16c): the final code: tlsconn against net/http, nginx, HAProxy and the pre-change build; the flood benchmark against the pre-change build
set -u
cd /work/wt-h16hs/benchmarks
out=/tmp/h16hs/r4
mkdir -p $out
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/h16hs/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s \
  -peers shardnet,before,nethttp,nginx,haproxy \
  -extra-peer before=bin/extra-before \
  -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-h16hs/engine
for t in new before new; do
  date -u +"%H:%M:%S flood $t" >> $out/times
  /tmp/h16hs/$t.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x >> $out/flood-$t.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# issue 16 (tls-16g) r3: the committed code (yield points only with a share < 1, "yield2"):
# tlsconn (default config) against main and net/http, then N rounds of the flood's share < 1 cells, main interleaved
set -u
r=$1; n=$2
out=/tmp/gate16/out/$r
mkdir -p $out
cd /work/wt-gate16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/gate16/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,main,nethttp \
  -extra-peer main=/tmp/gate16/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-gate16/engine
cells='TLSHandshakeFlood/(pinned/share=0\.|shared)'
for i in $(seq 1 $n); do
  date -u +"%H:%M:%S yield2 $i" >> $out/times
  /tmp/gate16/new2.test -test.run '^$' -test.bench "$cells" -test.benchtime 1x >> $out/yield.txt 2>&1
  date -u +"%H:%M:%S main $i" >> $out/times
  /tmp/gate16/main.test -test.run '^$' -test.bench "$cells" -test.benchtime 1x >> $out/main.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# issue 16 (tls-16g) r4: tlsconn with WithHandshakeShare(0.5) as the default (this branch "y05", main "m05",
# both built with options.go's default share set to 0.5; net/http), then N rounds of the flood's pinned
# share < 1 cells (run3.sh's pattern matched only the shared ones: -test.bench splits on '/'), main interleaved
set -u
r=$1; n=$2
out=/tmp/gate16/out/$r
mkdir -p $out
cd /work/wt-gate16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/gate16/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers y05,m05,nethttp -subject y05 \
  -extra-peer y05=/tmp/gate16/y05 -extra-peer m05=/tmp/gate16/m05 -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-gate16/engine
cells='TLSHandshakeFlood/pinned/share=0\.'
for i in $(seq 1 $n); do
  date -u +"%H:%M:%S yield2 $i" >> $out/times
  /tmp/gate16/new2.test -test.run '^$' -test.bench "$cells" -test.benchtime 1x >> $out/yield.txt 2>&1
  date -u +"%H:%M:%S main $i" >> $out/times
  /tmp/gate16/main.test -test.run '^$' -test.bench "$cells" -test.benchtime 1x >> $out/main.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

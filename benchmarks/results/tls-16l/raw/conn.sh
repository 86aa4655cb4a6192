#!/usr/bin/env bash
# tls-16l: tlsconn (one-P server, default config, 3 rounds x 2 s): this branch's CLI as "shardnet"
# (benchmarks/bin, built by `bench -suites none`), base 358ef75 as "base", net/http;
# then N more paired one-P flood runs (pinned/share=0.5) of new and base
set -u
r=$1; n=$2
out=/tmp/onep16/out/$r
mkdir -p $out
cd /work/wt-onep16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/onep16/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,base,nethttp \
  -extra-peer base=/tmp/onep16/basebin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
cd /work/wt-onep16/engine
for i in $(seq 1 $n); do
  for x in new base; do
    date -u +"%H:%M:%S $x $i" >> $out/times
    /tmp/onep16/$x.test -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$x.txt 2>&1
  done
done
date -u +"%H:%M:%S end" >> $out/times

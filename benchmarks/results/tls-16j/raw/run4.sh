#!/usr/bin/env bash
# tlsconn (this branch as "shardnet", main 3563b36 as "main", net/http; one-P server, default config,
# 3 rounds x 2 s), then the handshake allocations (BenchmarkTLSHandshakeAllocs, both builds),
# then run3.sh's flood rounds for pace and main
set -u
r=$1; n=$2
out=/tmp/fl16j/out/$r
mkdir -p $out
cd /work/wt-flood16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/fl16j/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,main,nethttp \
  -extra-peer main=/tmp/fl16j/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
date -u +"%H:%M:%S allocs start" >> $out/times
cd /work/wt-flood16/engine
for b in allocs allocs-main; do
  /tmp/fl16j/$b.test -test.run '^$' -test.bench 'TLSHandshakeAllocs' -test.benchtime 2000x -test.count 3 -test.benchmem >> $out/$b.txt 2>&1
done
/work/wt-flood16/benchmarks/results/tls-16j/raw/run3.sh $r $n pace main

#!/usr/bin/env bash
# tlsconn (one-P server, default config, 3 rounds x 2 s): this branch's HEAD (pace alone) as "shardnet",
# main (3563b36), net/http; then run3.sh's flood rounds for pace2 and main
set -u
r=$1; n=$2
out=/tmp/fl16j/out/$r
mkdir -p $out
cd /work/wt-flood16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/fl16j/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,main,nethttp \
  -extra-peer main=/tmp/fl16j/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
/work/wt-flood16/benchmarks/results/tls-16j/raw/run3.sh $r $n pace2 main

#!/usr/bin/env bash
# tlsconn (one-P server, default config, 3 rounds x 2 s): this branch's HEAD as "shardnet" (direct),
# pace (52a660a), slot (3c9a896), main (3563b36), net/http; then run3.sh's flood rounds for direct and main
set -u
r=$1; n=$2
out=/tmp/fl16j/out/$r
mkdir -p $out
cd /work/wt-flood16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/fl16j/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,pace,slot,main,nethttp \
  -extra-peer pace=/tmp/fl16j/bin-52a660a -extra-peer slot=/tmp/fl16j/bin-3c9a896 \
  -extra-peer main=/tmp/fl16j/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
if [ "$n" -gt 0 ]; then /work/wt-flood16/benchmarks/results/tls-16j/raw/run3.sh $r $n direct main; fi

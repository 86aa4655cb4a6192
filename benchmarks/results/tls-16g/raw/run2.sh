#!/usr/bin/env bash
# issue 16 (tls-16g): tlsconn (this branch "shardnet", main 67f0421 "main", net/http; one-P server, default config),
# then run.sh's flood rounds; usage: run2.sh rN N
set -u
r=$1; n=$2
out=/tmp/gate16/out/$r
mkdir -p $out
cd /work/wt-gate16/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/gate16/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,main,nethttp \
  -extra-peer main=/tmp/gate16/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
/work/wt-gate16/benchmarks/results/tls-16g/raw/run.sh $r $n

#!/usr/bin/env bash
# tlsconn (admit16 "shardnet", main a2a7489 "main", net/http; one-P server, default config), then run.sh's flood rounds
set -u
r=$1; n=$2
out=/tmp/admit/out/$r
mkdir -p $out
cd /work/wt-admit/benchmarks
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/admit/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,main,nethttp \
  -extra-peer main=/tmp/admit/mainbin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
/tmp/admit/run.sh $r $n

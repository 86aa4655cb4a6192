#!/usr/bin/env bash
# tls-16l: one-P (pinned/share=0.5) flood runs with the per-message logs (SHARDNET_FLOOD_LATLOG),
# the server's gctrace and runtime traces of both sides during the flooded fixed-rate phase.
# usage: trace.sh RUN N BIN
set -u
r=$1; n=$2; bin=$3
out=/tmp/onep16/out/$r
mkdir -p $out
cd /work/wt-onep16/engine
for i in $(seq 1 $n); do
  date -u +"%H:%M:%S p$i" >> $out/times
  env SHARDNET_FLOOD_LATLOG=$out/p$i SHARDNET_FLOOD_SERVER_GODEBUG=gctrace=1 \
    SHARDNET_FLOOD_TRACE=$out/p$i-trace \
    $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x > $out/p$i.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

#!/usr/bin/env bash
# tls-16h r1 (BIN=new.test, server log capped at 8 messages per read), r2 (new2.test), r4 (new4.test, the race fix): the fixed-rate phase's tail, instrumented (engine test binary of this branch's
# first commit, which only adds env-gated diagnostics): per-message times (SHARDNET_FLOOD_LATLOG),
# the server's gctrace, and in the "t" runs a runtime trace of both sides during the flooded
# fixed-rate phase. shared/share=0.5 and pinned/share=0.5.
set -u
r=$1
out=/tmp/tail16/out/$r
mkdir -p $out
cd /work/wt-tail16/engine
bin=${BIN:-/tmp/tail16/new2.test}
for spec in shared:s1: shared:s2:t pinned:p1: pinned:p2:t shared:s3: ; do
  IFS=: read lay name tr <<< "$spec"
  date -u +"%H:%M:%S $name" >> $out/times
  env SHARDNET_FLOOD_LATLOG=$out/$name SHARDNET_FLOOD_SERVER_GODEBUG=gctrace=1 \
    ${tr:+SHARDNET_FLOOD_TRACE=$out/$name-trace} \
    $bin -test.run '^$' -test.bench "TLSHandshakeFlood/$lay/share=0.5\$" -test.benchtime 1x > $out/$name.txt 2>&1
done
date -u +"%H:%M:%S end" >> $out/times

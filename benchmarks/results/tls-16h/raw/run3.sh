#!/usr/bin/env bash
# tls-16h r3: is the tail the drained backlog's burst of handshake starts? The same
# binary (new3.test: r2's plus SHARDNET_FLOOD_BENCH_MAX_HANDSHAKES) with the server's
# WithMaxHandshakes at the bench's 4096 and at 512 (the most a drained backlog can start at
# once), interleaved; per-message logs on, no trace. shared/share=0.5 and pinned/share=0.5.
set -u
r=$1; n=$2
out=/tmp/tail16/out/$r
mkdir -p $out
cd /work/wt-tail16/engine
bin=/tmp/tail16/new3.test
for i in $(seq 1 $n); do
  for m in 4096 512; do
    for lay in shared pinned; do
      name=$lay-m$m-$i
      date -u +"%H:%M:%S $name" >> $out/times
      env SHARDNET_FLOOD_LATLOG=$out/$name SHARDNET_FLOOD_BENCH_MAX_HANDSHAKES=$m \
        $bin -test.run '^$' -test.bench "TLSHandshakeFlood/$lay/share=0.5\$" -test.benchtime 1x > $out/$name.txt 2>&1
    done
  done
done
date -u +"%H:%M:%S end" >> $out/times

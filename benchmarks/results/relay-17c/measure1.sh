#!/bin/bash
# issue 17, short connections: this branch (shardnet) vs HAProxy vs the branch's base (base, a0e868c);
# then the iperf3 copy/splice cells against the same peers.
cd /work/wt-relay17/benchmarks || exit 1
B=/tmp/r17c/bench
X="-extra-peer base=/tmp/r17c/base"
date -u +"start %H:%M:%S"
timeout 400 $B -prebuilt -suites proxy-close -peers shardnet,haproxy,base $X -rounds 8 -duration 3s -readme '' -out results/relay-17c/close
date -u +"close done %H:%M:%S"
timeout 330 $B -prebuilt -suites proxy -cells '^iperf3' -peers shardnet,haproxy,base $X -rounds 5 -duration 3s -readme '' -out results/relay-17c/copy
date -u +"proxy done %H:%M:%S"

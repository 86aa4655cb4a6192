#!/bin/bash
# issue 17, short connections: this branch (shardnet) vs HAProxy vs the pre-change build (before, ceeb0ca);
# then the copy/splice iperf3 cells and the echo hot path against before.
cd /work/wt-h17close/benchmarks || exit 1
B=/tmp/h17c/bench
X="-extra-peer before=/tmp/h17c/beforebin"
date -u +"start %H:%M:%S"
timeout 330 $B -prebuilt -suites proxy-close -peers shardnet,haproxy,before $X -rounds 6 -duration 3s -readme '' -out results/relay-17b/close
date -u +"close done %H:%M:%S"
timeout 170 $B -prebuilt -suites proxy -cells '^iperf3' -peers shardnet,haproxy,before $X -rounds 3 -duration 3s -readme '' -out results/relay-17b/copy
date -u +"proxy done %H:%M:%S"
timeout 170 $B -prebuilt -suites echo-rate -cells '^c100 (64B x1|64B x16) @' -peers shardnet,before $X -rounds 3 -duration 3s -readme '' -out results/relay-17b/echo
date -u +"echo done %H:%M:%S"

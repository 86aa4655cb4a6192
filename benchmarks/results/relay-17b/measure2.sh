#!/bin/bash
# issue 17: the iperf3 copy and splice cells again, 5 rounds (the first run's 3 rounds left
# shardnet-splice ÷ before-splice at 1.11× with one round at 1.00×: settle it).
cd /work/wt-h17close/benchmarks || exit 1
date -u +"start %H:%M:%S"
timeout 420 /tmp/h17c/bench -prebuilt -suites proxy -cells '^iperf3' -peers shardnet,haproxy,before -extra-peer before=/tmp/h17c/beforebin -rounds 5 -duration 3s -readme '' -out results/relay-17b/copy2
date -u +"done %H:%M:%S"

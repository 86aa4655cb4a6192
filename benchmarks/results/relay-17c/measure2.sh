#!/bin/bash
# issue 17: the iperf3 cells again, with the raw-syscalls-only build (raw2: b7daf37, the raw system calls without the pools) as a third shardnet build, to locate measure 1's copy-path difference.
cd /work/wt-relay17/benchmarks || exit 1
date -u +"start %H:%M:%S"
timeout 400 /tmp/r17c/bench -prebuilt -suites proxy -cells '^iperf3' -peers shardnet,base,raw2 -extra-peer base=/tmp/r17c/base -extra-peer raw2=/tmp/r17c/raw2 -rounds 5 -duration 3s -readme '' -out results/relay-17c/copy2
date -u +"done %H:%M:%S"

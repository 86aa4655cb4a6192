#!/bin/bash
# issue 17: proxy-close again (measure 1 started at load 3.50, one HAProxy round disturbed), same binaries.
cd /work/wt-relay17/benchmarks || exit 1
date -u +"start %H:%M:%S"
timeout 400 /tmp/r17c/bench -prebuilt -suites proxy-close -peers shardnet,haproxy,base -extra-peer base=/tmp/r17c/base -rounds 8 -duration 3s -readme '' -out results/relay-17c/close2
date -u +"done %H:%M:%S"

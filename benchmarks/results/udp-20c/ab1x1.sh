#!/bin/bash
cd /work/wt-udp20/benchmarks
/tmp/udp20/benchdriver -build=false -extra-peer base=/tmp/udp20/base \
  -peers net,shardnet,base -suites udp,udp-rate -rate-fractions 0.5 \
  -cells '^c1 (64|1200)B x1( @50%)?$' \
  -duration 1500ms -rounds 6 -readme '' -out results/udp-20c/ab-1x1 > results/udp-20c/ab-1x1-run.txt 2>&1
echo "driver rc=$?" >> results/udp-20c/ab-1x1-run.txt

#!/bin/bash
/tmp/udp20/ab1x1.sh
cd /work/wt-udp20/benchmarks && /tmp/udp20/busypoll.sh > results/udp-20c/busy-poll.txt 2>&1

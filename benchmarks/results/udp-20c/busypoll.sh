#!/bin/bash
# busy polling against the default wait, new build with -busy-poll: spread 64 B at 65k/s, 2 rounds
B=/tmp/udp20/bp
for r in 1 2; do
  for bp in 0 20us 100us; do
    ECHOARGS="-busy-poll $bp" /tmp/udp20/smoke.sh $B shardnet 65000 64
  done
  /tmp/udp20/smoke.sh $B net 65000 64
done

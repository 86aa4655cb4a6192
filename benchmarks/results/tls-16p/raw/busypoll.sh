#!/bin/bash
# One /work/bin/measure call: main's shardnet (bin/shardnet) with -busy-poll 0, 5us, 15us at
# 33,000 and 53,000 req/s, c50 x1, through prof.sh; shares.py on each record (busypoll.txt).
cd "$(dirname "$0")/../../.."   # benchmarks/
for r in 33000 53000; do
for bp in 0 5us 15us; do
  n=bp$bp-$r
  EXTRA="-busy-poll $bp" results/tls-16p/raw/prof.sh shardnet bin/shardnet $r >/dev/null 2>&1
  for ext in data stat load.json; do mv /tmp/h16-prof/shardnet.$ext /tmp/h16-prof/$n.$ext; done
  echo "== $n $(grep task-clock /tmp/h16-prof/$n.stat | awk '{print $1}') ms process; ctx $(grep context /tmp/h16-prof/$n.stat | awk '{print $1}')"
  python3 results/tls-16p/raw/shares.py /tmp/h16-prof/$n.data $((r*3)) | tail -1
done
done

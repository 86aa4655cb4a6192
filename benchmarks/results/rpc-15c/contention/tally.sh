#!/bin/bash
# contention tally for rpc-15c: steady hogs (N on CPU 0 / M on CPU 1), runtime vs syscall, ABBA per round
cd /tmp/rpc15
for r in 1 2 3; do
  for c in "3 0 20000" "3 3 20000" "3 0 30000" "3 3 30000"; do
    set -- $c
    if [ $((r % 2)) = 1 ]; then order="runtime syscall"; else order="syscall runtime"; fi
    for m in $order; do
      echo -n "rate=$3 " ; CHOGS=$2 ./smoke.sh $m $1 $3
    done
  done
done

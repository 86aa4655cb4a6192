#!/bin/bash
# repro.sh: spread UDP at 65k/s, 64 B and 1,200 B, syscall and runtime wait, 3 rounds, order swapped each round.
for r in 1 2 3; do
 for size in 1200 64; do
  if [ $((r % 2)) = 1 ]; then order="syscall runtime"; else order="runtime syscall"; fi
  for w in $order; do echo "--- round $r"; /tmp/w8/udp/one.sh $w $size 65000; done
 done
done

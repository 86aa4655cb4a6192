#!/bin/bash
# hog.sh: spread UDP 1,200 B at 65k/s with one steady busy loop on the server's CPU 0 (same nice), both waits, 3 rounds ABAB.
for r in 1 2 3; do
  if [ $((r % 2)) = 1 ]; then order="syscall runtime"; else order="runtime syscall"; fi
  for w in $order; do
    taskset -c 0 sh -c 'while :; do :; done' & h=$!
    echo "--- round $r, hog on CPU 0"; /tmp/w8/udp/one.sh $w 1200 65000
    kill $h; wait $h 2>/dev/null
  done
done

#!/bin/bash
# suite.sh ROUNDS: per round and cell, both waits saturated (order swapped each round), then both at 50 % and 80 %
# of the slower one's saturated rate. Output lines: round cell then run1.sh's line.
R=${1:-4}
for r in $(seq $R); do
 for cell in "64 1" "64 16" "4096 1"; do
  set -- $cell
  if [ $((r % 2)) = 1 ]; then order="syscall runtime"; else order="runtime syscall"; fi
  min=0
  for w in $order; do
    l=$(/tmp/w8/unp/run1.sh $w $1 $2 0); echo "r$r sat $l"
    g=$(echo $l | awk '{print $5}'); if [ $min = 0 ] || [ $g -lt $min ]; then min=$g; fi
  done
  for f in 50 80; do
    rate=$((min * f / 100))
    for w in $order; do echo "r$r @$f% $(/tmp/w8/unp/run1.sh $w $1 $2 $rate)"; done
  done
 done
done

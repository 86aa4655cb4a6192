#!/bin/bash
for r in 1 2 3 4; do
 for cell in "64 16" "64 1" "4096 1"; do
  set -- $cell
  case $((r % 3)) in 0) order="syscall runtime nudge";; 1) order="runtime nudge syscall";; 2) order="nudge syscall runtime";; esac
  for m in $order; do echo "r$r $(/tmp/nudge/run1.sh $m $1 $2)"; done
 done
done

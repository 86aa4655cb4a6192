#!/bin/bash
# gmp.sh: unpinned saturated cells, blocking wait, runtime wait, and runtime wait with a spare P (server GOMAXPROCS=3); 3 rounds, rotating order.
for r in 1 2 3; do for cell in "64 16" "64 1"; do set -- $cell
 case $r in 1) order="syscall runtime rt3";; 2) order="rt3 syscall runtime";; 3) order="runtime rt3 syscall";; esac
 for v in $order; do
  if [ $v = rt3 ]; then echo "r$r sat gmp3 $(SRVENV=GOMAXPROCS=3 /tmp/w8/unp/run1g.sh runtime $1 $2 0)"; else echo "r$r sat $(/tmp/w8/unp/run1g.sh $v $1 $2 0)"; fi
 done
done; done

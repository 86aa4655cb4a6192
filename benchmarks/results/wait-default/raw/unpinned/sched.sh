#!/bin/bash
for r in 1 2; do for cell in "64 16" "64 1"; do set -- $cell
 if [ $r = 1 ]; then order="syscall runtime"; else order="runtime syscall"; fi
 for w in $order; do echo "r$r sat $(/tmp/w8/unp/run1s.sh $w $1 $2 0)"; done
done; done

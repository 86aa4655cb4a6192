#!/bin/bash
# measure call 3: bursty competing load (sh loops that spin ~1-2 ms then sleep 4 ms), the shortfall's reproduction
cd /tmp/rtw2
export HOG='while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.004; done'
: > bursty.txt
for r in 1 2 3; do
  for c in "3 3" "0 3" "3 0"; do
    set -- $c
    for m in syscall runtime runtime-gmp2 runtime-pinned; do
      case $m in
        runtime-gmp2) echo -n "gmp2 " >> bursty.txt; CHOGS=$2 ./smoke.sh runtime $1 20000 GOMAXPROCS=2 >> bursty.txt ;;
        *) CHOGS=$2 ./smoke.sh $m $1 20000 >> bursty.txt ;;
      esac
      sed 's/^/    /' thr.txt | sort -k4 -n -r | head -2 >> bursty.txt
    done
  done
done

#!/bin/bash
# measure call 1: controlled contention tally, then proxy-close with the runtime wait as an extra peer
cd /tmp/rtw2
: > contention.txt
for r in 1 2 3 4 5 6; do
  for m in syscall runtime; do CHOGS=0 ./smoke.sh $m 1 20000 >> contention.txt; done
  for m in runtime syscall; do CHOGS=2 ./smoke.sh $m 2 20000 >> contention.txt; done
done
cd /work/wt-rtwait2/benchmarks
/tmp/rtw2/bench -prebuilt -extra-peer rt=/tmp/rtw2/rt -subject rt -peers shardnet,haproxy,rt -suites proxy-close -rounds 6 -duration 3s -out /tmp/rtw2/close > /tmp/rtw2/close.log 2>&1

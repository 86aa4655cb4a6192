#!/bin/bash
# measure call 2: HTTPS (tlsterm) saturated and @50 % with the runtime wait as an extra peer; contention near saturation
cd /work/wt-rtwait2/benchmarks
/tmp/rtw2/bench -prebuilt -readme '' -extra-peer rt=/tmp/rtw2/rt -subject rt -peers shardnet,rt -suites https,https-rate -cells '^c50 x1( @|$)' -rate-fractions 0.5 -rounds 4 -duration 2s -out /tmp/rtw2/https > /tmp/rtw2/https.log 2>&1
cd /tmp/rtw2
: > contention2.txt
for r in 1 2 3 4; do
  for m in syscall runtime; do CHOGS=0 ./smoke.sh $m 1 35000 >> contention2.txt; done
  for m in runtime syscall; do CHOGS=0 ./smoke.sh $m 1 35000 >> contention2.txt; done
done

#!/bin/bash
# issue 17 (relay-17d): short connections through the proxy with the adaptive accept batch
# (shardnet = 975ea4a) and the branch's base (base = 039f155), each with the engine's default
# blocking epoll_wait and with SHARDNET_WAIT=runtime (NAME-rt), against HAProxy; then the
# syscall and context-switch counts per relayed connection (sc.sh, perf stat); then the
# iperf3 copy/splice cells against the build before the raw close/connect change (old = a0e868c).
cd /work/wt-relay8/benchmarks || exit 1
B=/tmp/r17d/bench
R=results/relay-17d
date -u +"start %H:%M:%S"
timeout 420 $B -prebuilt -suites proxy-close -peers shardnet,shardnet-rt,haproxy,base,base-rt -extra-peer base=/tmp/r17d/base -rounds 8 -duration 3s -readme '' -out $R/close
date -u +"close done %H:%M:%S"
mkdir -p $R/smoke
for w in syscall runtime; do
  $R/sc.sh bin/shardnet $w $R/smoke/sc-new-$w
  $R/sc.sh /tmp/r17d/base/shardnet $w $R/smoke/sc-base-$w
done
$R/sc.sh haproxy - $R/smoke/sc-haproxy
date -u +"sc done %H:%M:%S"
timeout 300 $B -prebuilt -suites proxy -cells '^iperf3' -peers shardnet,old -extra-peer old=/tmp/r17d/old -rounds 8 -duration 3s -readme '' -out $R/copy
date -u +"copy done %H:%M:%S"

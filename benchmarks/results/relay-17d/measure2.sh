#!/bin/bash
# issue 17 (relay-17d), second window, same binaries as measure1.sh: proxy-close again; the
# syscall counts again; then the iperf3 cells of this build (new = benchmarks/bin, 975ea4a) and
# the build before the raw close/connect change (old = a0e868c) in both orders (the driver runs
# the peers of a round in a fixed order: old first, then new first), subject new.
cd /work/wt-relay8/benchmarks || exit 1
B=/tmp/r17d/bench
R=results/relay-17d
date -u +"start %H:%M:%S"
timeout 420 $B -prebuilt -suites proxy-close -peers shardnet,shardnet-rt,haproxy,base,base-rt -extra-peer base=/tmp/r17d/base -rounds 8 -duration 3s -readme '' -out $R/close2
date -u +"close done %H:%M:%S"
mkdir -p $R/smoke2
for w in syscall runtime; do
  $R/sc.sh bin/shardnet $w $R/smoke2/sc-new-$w
  $R/sc.sh /tmp/r17d/base/shardnet $w $R/smoke2/sc-base-$w
done
$R/sc.sh haproxy - $R/smoke2/sc-haproxy
date -u +"sc done %H:%M:%S"
timeout 200 $B -prebuilt -suites proxy -cells '^iperf3' -peers old,new -extra-peer old=/tmp/r17d/old -extra-peer new=$PWD/bin -subject new -rounds 6 -duration 3s -readme '' -out $R/copy-oldfirst
date -u +"copy old-first done %H:%M:%S"
timeout 200 $B -prebuilt -suites proxy -cells '^iperf3' -peers old,new -extra-peer new=$PWD/bin -extra-peer old=/tmp/r17d/old -subject new -rounds 6 -duration 3s -readme '' -out $R/copy-newfirst
date -u +"copy new-first done %H:%M:%S"

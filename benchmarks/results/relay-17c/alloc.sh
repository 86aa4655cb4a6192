#!/bin/bash
# smoke: GC cycles and allocations per relayed connection. usage: alloc.sh BIN OUT
BIN=$1; OUT=$2
SN=/tmp/r17c/base/shardnet
taskset -c 1 $SN http -addr 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 &
BE=$!
GODEBUG=gctrace=1 GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17802 -backend 127.0.0.1:17801 -shards 1 -debug 127.0.0.1:6061 >/dev/null 2>$OUT.gctrace &
PX=$!
sleep 0.7
taskset -c 1 wrk -t1 -c50 -d1s -H 'Connection: close' http://127.0.0.1:17802/plaintext >/dev/null
curl -s -o /dev/null 'http://127.0.0.1:6061/debug/pprof/allocs?gc=1'; curl -s -o $OUT.a0 'http://127.0.0.1:6061/debug/pprof/allocs?gc=1'
g0=$(grep -c '^gc ' $OUT.gctrace)
taskset -c 1 wrk -t1 -c50 -d3s -H 'Connection: close' http://127.0.0.1:17802/plaintext > $OUT.wrk
g1=$(grep -c '^gc ' $OUT.gctrace)
curl -s -o /dev/null 'http://127.0.0.1:6061/debug/pprof/allocs?gc=1'; curl -s -o $OUT.a1 'http://127.0.0.1:6061/debug/pprof/allocs?gc=1'
kill $PX $BE; wait $PX $BE 2>/dev/null
n=$(awk '/requests in/{print $1}' $OUT.wrk)
echo "requests=$n gc_cycles=$((g1-g0))"
go tool pprof -sample_index=alloc_objects -base $OUT.a0 -top -nodecount=25 $BIN $OUT.a1 2>/dev/null | head -35

#!/bin/bash
BIN=$1; OUT=$2
SN=/tmp/r17c/base/shardnet
taskset -c 1 $SN http -addr 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 &
BE=$!
if [ "$BIN" = haproxy ]; then taskset -c 0 haproxy -db -f /tmp/r17c/hap.cfg >/dev/null 2>&1 &
else GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17802 -backend 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 & fi
PX=$!
sleep 0.7
taskset -c 1 wrk -t1 -c50 -d4s -H 'Connection: close' http://127.0.0.1:17802/plaintext > $OUT.wrk &
W=$!
sleep 0.5
perf record -F 4999 -g -o $OUT.data -p $PX -- sleep 3 2>/dev/null
wait $W
kill $PX $BE; wait $PX $BE 2>/dev/null
grep "requests in" $OUT.wrk

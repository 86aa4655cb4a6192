#!/bin/bash
# usage: strace.sh PROXYKIND(bin path or "haproxy") OUTPREFIX [conns]
set -u
BIN=$1; OUT=$2; C=${3:-10}
SN=/tmp/r17c/base/shardnet
taskset -c 1 $SN http -addr 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 &
BE=$!
if [ "$BIN" = haproxy ]; then
cat > /tmp/r17c/hap.cfg <<EOC
global
    nbthread 1
    maxconn 4096
    nosplice
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen relay
    bind 127.0.0.1:17802
    maxconn 4096
    server backend 127.0.0.1:17801
EOC
taskset -c 0 haproxy -db -f /tmp/r17c/hap.cfg >/dev/null 2>&1 &
else
GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17802 -backend 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 &
fi
PX=$!
sleep 1
curl -s -o /dev/null http://127.0.0.1:17802/plaintext -H 'Connection: close' || echo CURLFAIL
strace -c -f -o $OUT.strace -p $PX &
ST=$!
sleep 0.5
taskset -c 1 wrk -t1 -c$C -d3s -H 'Connection: close' http://127.0.0.1:17802/plaintext > $OUT.wrk
kill -INT $ST; wait $ST
kill $PX $BE; wait $PX $BE 2>/dev/null
grep -E "requests in|Socket" $OUT.wrk

#!/bin/bash
# smoke: proxy CPU per request, wrk -c50 Connection: close, 3 s; args: label=bin|haproxy ...
SN=/tmp/r17c/base/shardnet
for round in 1 2; do
for spec in "$@"; do
  name=${spec%%=*}; BIN=${spec#*=}
  taskset -c 1 $SN http -addr 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 &
  BE=$!
  if [ "$BIN" = haproxy ]; then taskset -c 0 haproxy -db -f /tmp/r17c/hap.cfg >/dev/null 2>&1 &
  else GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17802 -backend 127.0.0.1:17801 -shards 1 >/dev/null 2>&1 & fi
  PX=$!
  sleep 0.7
  curl -s -o /dev/null http://127.0.0.1:17802/plaintext || echo CURLFAIL
  t0=$(awk '{print $14+$15}' /proc/$PX/stat)
  out=$(taskset -c 1 wrk -t1 -c50 -d3s -H 'Connection: close' http://127.0.0.1:17802/plaintext)
  t1=$(awk '{print $14+$15}' /proc/$PX/stat)
  n=$(echo "$out" | awk '/requests in/{print $1}')
  echo "$round $name reqs=$n cpu_ticks=$((t1-t0)) us_per_conn=$(echo "scale=1; ($t1-$t0)*10000/$n" | bc) $(echo "$out" | grep -i socket)"
  kill $PX $BE; wait $PX $BE 2>/dev/null
done; done

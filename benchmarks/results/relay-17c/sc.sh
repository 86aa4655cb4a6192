#!/bin/bash
# smoke: syscalls per relayed connection via perf stat tracepoints (no strace slow-down). usage: sc.sh BIN|haproxy OUT
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
EV=""
for s in nanosleep futex close connect accept4 epoll_ctl epoll_pwait epoll_wait setsockopt getsockopt shutdown read write recvfrom sendto socket fcntl tgkill sched_yield clock_gettime; do EV="$EV -e syscalls:sys_enter_$s"; done
perf stat $EV -e context-switches -e cpu-migrations -p $PX -o $OUT.stat -- sleep 3
wait $W
kill $PX $BE; wait $PX $BE 2>/dev/null
n=$(awk "/sys_enter_connect /{gsub(\",\",\"\",\$1); print \$1}" $OUT.stat)
# per connection over the 3 s window: approx, wrk ran 4 s
awk -v n=$n '/syscalls:|context|migr/{gsub(",","",$1); printf "%-40s %8d  %.3f/conn\n", $2, $1, $1/n}' $OUT.stat
echo "requests(4s)=$n"

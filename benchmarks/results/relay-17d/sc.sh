#!/bin/bash
# System calls and context switches per relayed connection: perf stat on the
# syscall tracepoints of the proxy's process for 3 s of wrk -c50
# Connection: close (perf stat does not slow the process as strace does),
# divided by its connect calls (one per relayed connection).
# usage: sc.sh BIN|haproxy WAIT(syscall|runtime|-) OUT
BIN=$1; WAIT=$2; OUT=$3
D=$(dirname "$0")
SN=/work/wt-relay8/benchmarks/bin/shardnet
taskset -c 1 $SN http -addr 127.0.0.1:17811 -shards 1 >/dev/null 2>&1 &
BE=$!
if [ "$BIN" = haproxy ]; then
  printf 'global\n    nbthread 1\n    maxconn 4096\n    nosplice\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\nlisten relay\n    bind 127.0.0.1:17812\n    maxconn 4096\n    server backend 127.0.0.1:17811\n' > /tmp/r17d/hap.cfg
  taskset -c 0 haproxy -db -f /tmp/r17d/hap.cfg >/dev/null 2>&1 &
else
  SHARDNET_WAIT=$WAIT GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17812 -backend 127.0.0.1:17811 -shards 1 >/dev/null 2>&1 &
fi
PX=$!
sleep 0.7
taskset -c 1 wrk -t1 -c50 -d4s -H 'Connection: close' http://127.0.0.1:17812/plaintext > $OUT.wrk &
W=$!
sleep 0.5
EV=""
for s in nanosleep futex close connect accept4 epoll_ctl epoll_pwait epoll_wait setsockopt shutdown read write recvfrom sendto socket fcntl; do EV="$EV -e syscalls:sys_enter_$s"; done
perf stat $EV -e context-switches -p $PX -o $OUT.stat -- sleep 3
wait $W
kill $PX $BE; wait $PX $BE 2>/dev/null
n=$(awk '/sys_enter_connect /{gsub(",","",$1); print $1}' $OUT.stat)
echo "== $BIN wait=$WAIT: $n relayed connections in 3 s"
awk -v n=$n '/syscalls:|context/{gsub(",","",$1); printf "%-36s %8d  %.3f/conn\n", $2, $1, $1/n}' $OUT.stat

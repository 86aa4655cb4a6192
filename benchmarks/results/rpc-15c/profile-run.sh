#!/bin/bash
# usage: run.sh WAIT MODE(strace|perf|none) RATE SIZE
W=$1; MODE=$2; RATE=${3:-31000}; SIZE=${4:-64}
B=/tmp/rpc15/b
D=/tmp/rpc15/prof
SHARDNET_WAIT=$W taskset -c 0 $B/shardnet rpc-server -addr 127.0.0.1:7399 -shards 1 > $D/srv-$W.out 2>&1 &
SP=$!
sleep 0.5
taskset -c 1 $B/shardnet rpc-bench -addr 127.0.0.1:7399 -shards 1 -c 16 -inflight 4 -size $SIZE -duration 5s -rate $RATE > $D/cl-$W-$MODE.out 2>&1 &
CP=$!
sleep 1
case $MODE in
strace) timeout 2 strace -c -f -p $SP -o $D/strace-$W.txt ;;
perf) perf record -F 10000 -g -o $D/perf-$W.data -p $SP -- sleep 3 2>/dev/null ;;
stat) perf stat -e task-clock,context-switches,cpu-migrations,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_gettid -p $SP -- sleep 3 2> $D/stat-$W.txt ;;
esac
wait $CP
kill -TERM $SP; wait $SP

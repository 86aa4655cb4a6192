#!/bin/bash
# Profiles shardnet rpc-server at a fixed rate on loopback, as rpc-15d's
# profile.sh: the server on CPU 0, rpc-bench on CPU 1 (16 connections x 4 in
# flight, the compare's fixed-rate setup), perf record -F 10000 -g on the
# server's PID for 3 s, 1 s into a 7 s run; then counts for 1 s
# the server's system calls by kind (perf stat on the syscall tracepoints).
# usage: profile.sh BINDIR WAIT(runtime|syscall|c) RATE SIZE OUTDIR TAG
# (WAIT c runs BINDIR/peer-c -mode rpc, the C server, instead)
set -e
B=$1; W=$2; RATE=$3; SIZE=$4; D=$5; T=$6
CB=${CB:-$B} # the client's shardnet (rpc-bench), the same for every server of an A/B
mkdir -p $D
if [ "$W" = c ]; then
	taskset -c 0 $B/peer-c -mode rpc -addr 127.0.0.1:7398 > $D/srv-$T.out 2>&1 &
else
	SHARDNET_WAIT=$W taskset -c 0 $B/shardnet rpc-server -addr 127.0.0.1:7398 -shards 1 > $D/srv-$T.out 2>&1 &
fi
SP=$!
sleep 0.5
taskset -c 1 $CB/shardnet rpc-bench -addr 127.0.0.1:7398 -shards 1 -c 16 -inflight 4 -size $SIZE -duration 7s -rate $RATE > $D/cl-$T.out 2>&1 &
CP=$!
sleep 1
perf record -F 10000 -g -o $D/perf-$T.data -p $SP -- sleep 3 2>/dev/null
perf stat -e task-clock,context-switches,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_gettid,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep -p $SP -o $D/stat-$T.txt -- sleep 1 || true
wait $CP
kill -TERM $SP; wait $SP || true
perf report -i $D/perf-$T.data --stdio --no-children -n --sort dso,sym -g none 2>/dev/null | grep -v '^$' | grep -v '^#' | grep '%' | head -120 > $D/self-$T.txt
perf report -i $D/perf-$T.data --stdio --children -n --sort sym -g none 2>/dev/null | grep '%' | head -100 > $D/children-$T.txt

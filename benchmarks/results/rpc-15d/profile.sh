#!/bin/bash
# Profiles the server of one peer at a fixed rate on loopback: the server on
# CPU 0, rpc-bench on CPU 1 (16 connections x 4 in flight, as
# peer-rpc-compare's fixed-rate runs), perf record -F 10000 -g on the
# server's PID for 3 s, 1 s into a 5 s run.
# usage: profile.sh PEER(shardnet|c) RATE SIZE OUTDIR   (binaries in $B)
set -e
P=$1; RATE=$2; SIZE=$3; D=$4
B=${B:-/tmp/rpc15bin}
case $P in
shardnet) taskset -c 0 $B/shardnet rpc-server -addr 127.0.0.1:7398 -shards 1 > $D/srv-$P.out 2>&1 & ;;
c) taskset -c 0 $B/peer-c -mode rpc -addr 127.0.0.1:7398 > $D/srv-$P.out 2>&1 & ;;
esac
SP=$!
sleep 0.5
taskset -c 1 $B/shardnet rpc-bench -addr 127.0.0.1:7398 -shards 1 -c 16 -inflight 4 -size $SIZE -duration 5s -rate $RATE > $D/cl-$P.out 2>&1 &
CP=$!
sleep 1
perf record -F 10000 -g -o $D/perf-$P.data -p $SP -- sleep 3 2>/dev/null
# This perf stat counted nothing in the measured run (its output says "<not counted>"); the figures come from perf record alone.
perf stat -e task-clock,context-switches,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev -p $SP -- sleep 0.5 2> $D/stat-$P.txt || true
wait $CP
kill -TERM $SP; wait $SP || true

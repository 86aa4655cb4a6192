#!/bin/bash
# per-datagram syscall counts and perf profile of a UDP echo server at 82k/s spread, 64B
B=/work/main/benchmarks/bin
out=/tmp/udpprof; mkdir -p $out
run() { name=$1; shift
  taskset -c 0 env GOMAXPROCS=1 "$@" > $out/$name.srv 2>&1 &
  sp=$!; sleep 1
  taskset -c 1 $B/shardnet bench -udp -addr 127.0.0.1:7411 -c 100 -size 64 -pipeline 16 -duration 6s -shards 1 -udp-gso=false -rate 82000 -json > $out/$name.cli 2>&1 &
  cp=$!; sleep 1.5
  perf stat -e 'syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,context-switches,task-clock' -p $sp -- sleep 3 2> $out/$name.stat
  perf record -F 2000 -g -o $out/$name.data -p $sp -- sleep 2 2>/dev/null >/dev/null
  wait $cp; kill $sp; wait $sp
}
run c $B/peer-c -mode udp -addr 127.0.0.1:7411
run rt env SHARDNET_WAIT=runtime $B/shardnet udp-echo -addr udp://127.0.0.1:7411 -shards 1
run def $B/shardnet udp-echo -addr udp://127.0.0.1:7411 -shards 1

#!/bin/bash
# Checks what the two-host emulation moves: perf record on the server (its
# PID) and on all of CPU 0 (-a -C 0, which adds softirqs that land while
# CPU 0 idles), shardnet rpc-server at 64 B and 22,500 calls/s, once on
# loopback and once across the veth pair with RPS as peer-rpc-compare
# -netns sets it up (same names and addresses; removed on exit).
# usage: profile-netns.sh OUTDIR   (binaries in $B)
set -e
D=$1; B=${B:-/tmp/rpc15bin}
S=rpc15prof-srv; C=rpc15prof-cli
cleanup() { ip netns del $S 2>/dev/null || true; ip netns del $C 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $S; ip netns add $C
ip link add rpcs netns $S type veth peer name rpcc netns $C
ip -n $S addr add 10.221.0.1/24 dev rpcs; ip -n $C addr add 10.221.0.2/24 dev rpcc
for n in $S $C; do ip -n $n link set lo up; done
ip -n $S link set rpcs up; ip -n $C link set rpcc up
ip netns exec $S sh -c 'echo 1 > /sys/class/net/rpcs/queues/rx-0/rps_cpus'
ip netns exec $C sh -c 'echo 2 > /sys/class/net/rpcc/queues/rx-0/rps_cpus'
one() { # WAY SRVWRAP CLIWRAP HOST
	$2 taskset -c 0 $B/shardnet rpc-server -addr $4:7397 -shards 1 > $D/srv-$1.out 2>&1 &
	SP=$!
	sleep 0.5
	$3 taskset -c 1 $B/shardnet rpc-bench -addr $4:7397 -shards 1 -c 16 -inflight 4 -size 64 -duration 6s -rate 22500 > $D/cl-$1.out 2>&1 &
	CP=$!
	sleep 1
	perf record -F 10000 -g -o $D/perf-$1-pid.data -p $SP -- sleep 2 2>/dev/null
	perf record -F 10000 -g -o $D/perf-$1-cpu0.data -a -C 0 -- sleep 2 2>/dev/null
	wait $CP
	kill -TERM $SP; wait $SP || true
}
one loopback "" "" 127.0.0.1
one netns "ip netns exec $S" "ip netns exec $C" 10.221.0.1

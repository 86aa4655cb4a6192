#!/bin/bash
# smoke.sh BIN PEER RATE SIZE [ENV] [MODE]: one fixed-rate spread run; MODE: plain|strace|perf
B=$1; peer=$2; rate=$3; size=$4; envs=${5:-X=1}; mode=${6:-plain}
port=$((27000 + RANDOM % 1000))
if [ $peer = shardnet ]; then
  taskset -c 0 env GOMAXPROCS=1 $envs $B/shardnet udp-echo -addr udp://127.0.0.1:$port -shards 1 ${ECHOARGS:-} > /tmp/udp20/server.txt 2>&1 &
else
  taskset -c 0 env GOMAXPROCS=1 $B/peer-$peer -mode udp -addr 127.0.0.1:$port -loops 1 > /tmp/udp20/server.txt 2>&1 &
fi
sp=$!
sleep 0.5
taskset -c 1 env GOMAXPROCS=1 $B/shardnet bench -udp -addr 127.0.0.1:$port -c 100 -size $size -pipeline 16 -shards 1 -duration 4s -udp-gso=false -rate $rate -json > /tmp/udp20/client.json 2>/tmp/udp20/client.err &
cp=$!
sleep 1
for t in /proc/$sp/task/*; do echo "$(basename $t) $(cut -d' ' -f1,3 $t/schedstat) $(cat $t/comm)"; done > /tmp/udp20/th0
t0=$(awk '{print $14+$15}' /proc/$sp/stat); c0=$(awk '/^cpu0 /{print $2+$3+$4+$7+$8}' /proc/stat)
case $mode in
strace) timeout 2 strace -c -f -p $sp -o /tmp/udp20/strace.txt ;;
pstat) perf stat -x, -o /tmp/udp20/pstat.txt -p $sp -e syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_nanosleep,syscalls:sys_enter_futex,syscalls:sys_enter_tgkill,context-switches,cpu-migrations -e syscalls:sys_exit_recvmmsg --filter 'ret == 1' -e syscalls:sys_exit_recvmmsg --filter 'ret < 0' -e syscalls:sys_exit_recvfrom --filter 'ret < 0' -e syscalls:sys_exit_epoll_pwait --filter 'ret == 0' -- sleep 2 ;;
perf) perf record -q -p $sp -g -o /tmp/udp20/perf.data -- sleep 2 >/dev/null 2>&1 ;;
*) sleep 2 ;;
esac
for t in /proc/$sp/task/*; do echo "$(basename $t) $(cut -d' ' -f1,3 $t/schedstat)"; done > /tmp/udp20/th1
t1=$(awk '{print $14+$15}' /proc/$sp/stat); c1=$(awk '/^cpu0 /{print $2+$3+$4+$7+$8}' /proc/stat)
wait $cp
kill $sp; wait $sp 2>/dev/null
r=$(jq -r .msgs_per_sec /tmp/udp20/client.json)
join /tmp/udp20/th0 /tmp/udp20/th1 | awk -v n=$((rate*2)) '{d=$5-$2; s=$6-$3; if (d>0) printf "  tid %s: %.0f ns/dgram, %d slices (%.3f/dgram)\n", $1, d/n, s, s/n}'
echo "$peer ${ECHOARGS:-} rate=$rate size=$size env=$envs: verified/s=$r server_ns/dgram=$(( (t1-t0)*10000000/(rate*2) )) core_ns/dgram=$(( (c1-c0)*10000000/(rate*2) ))"

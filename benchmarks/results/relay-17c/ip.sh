#!/bin/bash
# smoke: iperf3 one stream through the proxy; proxy CPU per KiB and runtime syscalls. args: label=bin [...]; SPLICE=-splice or ""
for round in 1 2; do
for spec in "$@"; do
  name=${spec%%=*}; BIN=${spec#*=}
  taskset -c 1 iperf3 -s -p 17811 -1 >/dev/null 2>&1 &
  S=$!
  GOMAXPROCS=1 taskset -c 0 $BIN proxy -addr 127.0.0.1:17812 -backend 127.0.0.1:17811 -shards 1 $SPLICE >/dev/null 2>&1 &
  PX=$!
  sleep 0.7
  t0=$(awk '{print $14+$15}' /proc/$PX/stat)
  perf stat -e syscalls:sys_enter_futex -e syscalls:sys_enter_nanosleep -e syscalls:sys_enter_epoll_pwait -e syscalls:sys_enter_epoll_ctl -e context-switches -p $PX -o /tmp/r17c/ip-$name.stat -- sleep 2.5 &
  P=$!
  out=$(taskset -c 1 iperf3 -c 127.0.0.1 -p 17812 -t 3 -f m)
  wait $P
  t1=$(awk '{print $14+$15}' /proc/$PX/stat)
  mbps=$(echo "$out" | awk '/sender/{print $7}')
  # KiB moved in 3 s = mbps*1e6/8*3/1024
  echo "$round $name ${mbps}Mbit/s cpu_ticks=$((t1-t0)) ns_per_KiB=$(echo "scale=1; ($t1-$t0)*10000000/($mbps*1000000/8*3/1024)" | bc) $(awk '/syscalls|context/{gsub(",","",$1); printf "%s=%s ", $2, $1}' /tmp/r17c/ip-$name.stat | sed 's/syscalls:sys_enter_//g')"
  kill $PX $S 2>/dev/null; wait $PX $S 2>/dev/null
done; done

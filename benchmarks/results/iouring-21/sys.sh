#!/bin/bash
# sys.sh: syscalls and context switches per message of each server at a fixed
# rate (perf stat on the server process, 3 s), placement as the driver's.
# A count, not a timing: a smoke check outside the quiet lock's measure.
cd /tmp/u21
B=/work/wt-uring21/benchmarks/bin
EV=context-switches,cpu-migrations,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_nanosleep,syscalls:sys_enter_futex,syscalls:sys_enter_getpid,syscalls:sys_enter_tgkill,syscalls:sys_enter_sched_yield,raw_syscalls:sys_enter
port=27500
for cell in "64 1 75000" "4096 16 300000"; do
set -- $cell
for srv in shardnet:$B/peer-shardnet uring:/tmp/u21/bin/peer-shardnet-uring c:$B/peer-c c_uring:/tmp/u21/bin/peer-uring; do
  name=${srv%%:*}; bin=${srv#*:}; port=$((port+1))
  taskset -c 0 env GOMAXPROCS=1 $bin -mode echo -addr 127.0.0.1:$port -loops 1 >/dev/null 2>&1 & pid=$!
  sleep 0.5
  (taskset -c 1 env GOMAXPROCS=1 $B/shardnet bench -addr 127.0.0.1:$port -c 100 -size $1 -pipeline $2 -rate $3 -duration 4s -shards 1 -json 2>/dev/null > cli.json) & cpid=$!
  sleep 0.5
  perf stat -x, -e $EV -p $pid -- sleep 3 2> perf.txt
  wait $cpid
  kill -TERM $pid; wait $pid 2>/dev/null
  rate=$(sed -n 's/.*"msgs_per_sec": \([0-9.]*\).*/\1/p' cli.json)
  python3 - "$name" "$1x$2" "$rate" <<'PY'
import sys
name, cell, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
msgs = rate*3
out=[]
for l in open('perf.txt'):
    f=l.strip().split(',')
    if len(f)<3 or not f[0].replace('.','').isdigit(): continue
    v=float(f[0]); ev=f[2].replace('syscalls:sys_enter_','').replace('raw_syscalls:sys_enter','all_syscalls')
    if v>0: out.append('%s %.3f' % (ev, v/msgs))
print(name, cell, 'rate %.0f' % rate, '| per msg:', ', '.join(out))
PY
done
done

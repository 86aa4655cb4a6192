#!/usr/bin/env bash
# [EXTRA="server flags"] prof.sh NAME BIN RATE [CONNS] [PIPELINE]
#
# One HTTPS server (BIN: a shardnet CLI, or peer-nethttp when NAME is
# nethttp) on CPU 0 with GOMAXPROCS=1, loaded by httpsload on CPU 1 at RATE
# req/s over CONNS connections (the driver's https-rate placement). Over
# the load it takes, one after the other, 3 s each:
#   1. perf stat of the server's process: the system calls it enters, its
#      context switches and task-clock (per request: divide by RATE x 3);
#   2. perf record -g of CPU 0 (every process and the kernel on it);
#   3. perf stat of CPU 0 for 1 s (task-clock: is the load still on).
# Writes /tmp/h16-prof/NAME.{stat,cpu0.stat,data,load.json}. Run it
# under /work/bin/measure for figures (pair.sh), under heavy for a look.
# Needs bin/httpsload (cmd/bench -suites none) and a certificate in TLSDIR
# (cert.pem, key.pem; used as its own authority), e.g.
#   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
#     -out cert.pem -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1
set -euo pipefail
cd "$(dirname "$0")/../../.."     # benchmarks/
name=$1 bin=$2 rate=$3 conns=${4:-50} pl=${5:-1}
tlsdir=${TLSDIR:-/tmp/h16-tls} out=/tmp/h16-prof
mkdir -p "$out"
port=$((28000 + RANDOM % 2000))
if [ "$name" = nethttp ]; then
  argv=("$bin" -mode http -addr 127.0.0.1:$port -loops 1 -tls "$tlsdir/cert.pem,$tlsdir/key.pem")
else
  argv=("$bin" http -addr 127.0.0.1:$port -shards 1 -tls "$tlsdir/cert.pem,$tlsdir/key.pem" ${EXTRA:-})
fi
GOMAXPROCS=1 taskset -c 0 "${argv[@]}" >/dev/null 2>&1 & pid=$!
sleep 1
taskset -c 1 bin/httpsload -addr 127.0.0.1:$port -c "$conns" -pipeline "$pl" -rate "$rate" -duration 12 -json -tls-ca "$tlsdir/cert.pem" > "$out/$name.load.json" & ld=$!
sleep 1.5
ev=context-switches,task-clock
for sc in read write readv writev epoll_pwait epoll_wait epoll_ctl futex nanosleep sched_yield tgkill getpid rt_sigreturn madvise mmap; do ev=$ev,syscalls:sys_enter_$sc; done
perf stat -e "$ev" -p "$pid" -o "$out/$name.stat" -- sleep 3
perf record -g -C 0 -o "$out/$name.data" -- sleep 3 2>/dev/null >/dev/null
perf stat -e context-switches,task-clock -C 0 -o "$out/$name.cpu0.stat" -- sleep 1 >/dev/null
wait "$ld" || true
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
grep -E 'syscalls|context|task-clock|elapsed' "$out/$name.stat" "$out/$name.cpu0.stat"
cat "$out/$name.load.json"

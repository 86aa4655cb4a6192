#!/usr/bin/env bash
# tls-16o: the client's side of the uncapped (client-bound) runs: for each server in turn, ROUNDS
# times, the server on CPU 0 (GOMAXPROCS=1, no cap) and tlsconnload -c 16 -resume on CPU 1 for
# 4 s; prints conns/s, the client's CPU µs per connection (utime+stime, /usr/bin/time) and the
# server's (/proc). usage: clientcpu.sh ROUNDS NAME=BIN...  (BIN: a shardnet binary, or nethttp)
set -eu
B=${B:-/tmp/resume16}; rounds=$1; shift; port=19900
tick=$(getconf CLK_TCK)
pcpu() { awk -v t=$tick '{print ($14+$15)/t}' /proc/$1/stat; }
for r in $(seq $rounds); do
  for spec in "$@"; do
    name=${spec%%=*}; bin=${spec#*=}; port=$((port+1)); addr=127.0.0.1:$port
    if [ "$bin" = nethttp ]; then cmd="$B/bin/peer-nethttp -mode http -addr $addr -loops 1 -tls $B/pki/cert.pem,$B/pki/key.pem"
    else cmd="$bin http -addr $addr -shards 1 -tls $B/pki/cert.pem,$B/pki/key.pem"; fi
    taskset -c 0 env GOMAXPROCS=1 $cmd >/dev/null 2>&1 & srv=$!
    for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    sleep 0.3; s0=$(pcpu $srv)
    out=$( { /usr/bin/time -f "TIME %U %S" taskset -c 1 env GOMAXPROCS=1 $B/bin/tlsconnload -addr $addr -cert $B/pki/cert.pem -c 16 -duration 4s -json -resume; } 2>&1 )
    s1=$(pcpu $srv); kill $srv; wait $srv 2>/dev/null || true
    echo "$out" | python3 -c '
import sys, json, re
t = sys.stdin.read(); j = json.loads(t[t.index("{"):t.rindex("}") + 1]); u, s = map(float, re.search(r"TIME (\S+) (\S+)", t).groups())
n, secs, rate, p50 = j["messages"], j["seconds"], j["msgs_per_sec"], j["latency_us"]["p50"]
srv = float(sys.argv[4]) - float(sys.argv[3])
print("round %s %-8s %7.0f conns/s  client %6.1f us/conn (%.0f %%)  server %6.1f us/conn  p50 %s us" % (sys.argv[1], sys.argv[2], rate, 1e6 * (u + s) / n, 100 * (u + s) / secs, 1e6 * srv / n, p50))
' "$r" "$name" "$s0" "$s1"
  done
done

#!/usr/bin/env bash
# tls-16o: perf profile of one server under new resumed (or full) TLS connections, a smoke run.
# The server runs on CPU 0 (GOMAXPROCS=1, uncapped), tlsconnload -c 16 on CPU 1 for 5 s;
# perf record -g of the server's process for 3 s in the middle; fold.py sums the samples.
# usage: prof.sh OUT NAME PORT CMD... (CMD with {addr} {cert} {key}); MODE=full|resumed (default resumed)
set -eu
out=$1; name=$2; port=$3; shift 3
B=${B:-/tmp/resume16}
addr=127.0.0.1:$port
cmd=$(echo "$*" | sed "s#{addr}#$addr#g; s#{cert}#$B/pki/cert.pem#g; s#{key}#$B/pki/key.pem#g")
mkdir -p "$out"
taskset -c 0 env GOMAXPROCS=1 $cmd >/dev/null 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
flag=-resume; [ "${MODE:-resumed}" = full ] && flag=
taskset -c 1 env GOMAXPROCS=1 $B/bin/tlsconnload -addr $addr -cert $B/pki/cert.pem -c 16 -duration 5s -json $flag > "$out/$name.load.json" &
ld=$!
sleep 1
perf record -q -g -p $srv -o "$out/$name.perf.data" -- sleep 3 2>/dev/null
wait $ld
perf script -i "$out/$name.perf.data" 2>/dev/null | python3 "$(dirname "$0")/fold.py" > "$out/$name.fold.txt"
rm -f "$out/$name.perf.data"
cat "$out/$name.load.json"; echo; cat "$out/$name.fold.txt"

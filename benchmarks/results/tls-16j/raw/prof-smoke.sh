#!/usr/bin/env bash
# smoke: CPU profile of a one-P shardnet https server under tlsconnload -c 16
set -u
name=$1; bin=$2
cd /work/wt-flood16/benchmarks
GOMAXPROCS=1 taskset -c 0 $bin http -addr 127.0.0.1:18443 -shards 1 -tls bin/tls/server.pem,bin/tls/server.key -debug 127.0.0.1:16060 > /tmp/fl16j/$name.srv.log 2>&1 &
pid=$!
sleep 0.5
GOMAXPROCS=1 taskset -c 1 bin/tlsconnload -addr 127.0.0.1:18443 -cert bin/tls/server.pem -c 16 -duration 5s > /tmp/fl16j/$name.load.txt 2>&1 &
lp=$!
sleep 1
curl -s -o /tmp/fl16j/$name.prof "http://127.0.0.1:16060/debug/pprof/profile?seconds=3"
wait $lp
kill $pid; wait $pid 2>/dev/null
tail -3 /tmp/fl16j/$name.load.txt

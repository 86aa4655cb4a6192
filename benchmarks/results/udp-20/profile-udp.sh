#!/bin/bash
# profile-udp.sh OUTDIR: where the server core's time goes, shardnet udp-echo
# against net's UDP peer, 100 flows x 16, 64 B, client without GSO, at
# saturation and at a fixed 16,000 datagrams/s: perf record on CPU 0 (the
# server's core) for 1.5 s of a 3 s run, and the reports by symbol.
# Run from benchmarks/ after the binaries are built (bin/).
set -u
out=$1; mkdir -p "$out"
B=$PWD/bin
port=27101
for peer in shardnet net; do
  for rate in 0 16000; do
    port=$((port+1))
    if [ $peer = shardnet ]; then
      taskset -c 0 env GOMAXPROCS=1 $B/shardnet udp-echo -addr udp://127.0.0.1:$port -shards 1 > $out/$peer-r$rate.server.txt 2>&1 &
    else
      taskset -c 0 env GOMAXPROCS=1 $B/peer-$peer -mode udp -addr 127.0.0.1:$port -loops 1 > $out/$peer-r$rate.server.txt 2>&1 &
    fi
    sp=$!
    sleep 0.5
    ra=""; [ $rate -gt 0 ] && ra="-rate $rate"
    taskset -c 1 env GOMAXPROCS=1 $B/shardnet bench -udp -addr 127.0.0.1:$port -c 100 -size 64 -pipeline 16 -shards 1 -duration 3s -udp-gso=false $ra > $out/$peer-r$rate.client.txt 2>&1 &
    cp=$!
    sleep 1
    perf record -q -C 0 -g -o /tmp/udp20-perf.data -- sleep 1.5 >/dev/null 2>&1
    wait $cp
    kill $sp; wait $sp 2>/dev/null
    perf report -i /tmp/udp20-perf.data --no-children --sort comm,dso -q -g none 2>/dev/null | head -15 > $out/$peer-r$rate.by-dso.txt
    perf report -i /tmp/udp20-perf.data --no-children --sort sym -q -g none 2>/dev/null | head -60 > $out/$peer-r$rate.by-sym.txt
  done
done
rm -f /tmp/udp20-perf.data

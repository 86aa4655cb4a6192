#!/usr/bin/env bash
# TLS termination (tlsterm) with the proxy's default wait and with -wait runtime, at 150 MiB/s,
# while busy loops compete for the proxy's CPU 0 (steady: spin; bursty: spin ~1.5 ms, sleep 4 ms).
# usage: hogterm.sh OUTDIR ROUNDS MODE(steady|bursty|none)
set -u
out=$1; rounds=$2; mode=$3
mkdir -p "$out"
hog=()
case $mode in
steady) taskset -c 0 sh -c 'while :; do :; done' & hog+=($!) ;;
bursty) taskset -c 0 python3 -c '
import time
while True:
    t=time.perf_counter()
    while time.perf_counter()-t<0.0015: pass
    time.sleep(0.004)' & hog+=($!) ;;
none) ;;
esac
cd /tmp
date -u +"%H:%M:%S $mode start" >> "$out/times"
timeout -k 5 280 "${TLSTERM:-/tmp/l12/bin/tlsterm}" -variant syscall="${BIN:-/tmp/l12/main}",flag-wait=syscall -variant runtime="${BIN:-/tmp/l12/main}",flag-wait=runtime \
  -rounds "$rounds" -seconds 5 -rate 150 > "$out/term-$mode.md" 2> "$out/term-$mode.err"
rc=$?
date -u +"%H:%M:%S $mode end rc=$rc" >> "$out/times"
for p in "${hog[@]}"; do kill "$p"; done
exit $rc

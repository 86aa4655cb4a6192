#!/usr/bin/env bash
# tls-16n, part A: TLS termination through the proxy (benchmarks/cmd/tlsterm), paired rounds of
# every variant and HAProxy, at 150 MiB/s and saturated. Binaries built beforehand (under heavy):
#   /tmp/term16/bin/tlsterm      (benchmarks/cmd/tlsterm of this branch)
#   /tmp/term16/main/shardnet    (main 9fad27b: git archive + go build ./tools/shardnet)
#   /tmp/term16/new/shardnet     (this branch)
# usage: term.sh OUTDIR ROUNDS VARIANT...   (VARIANT as tlsterm's -variant NAME=DIR[,wait=MODE])
set -u
out=$1; rounds=$2; shift 2
mkdir -p "$out"
args=()
for v in "$@"; do args+=(-variant "$v"); done
cd /tmp
date -u +"%H:%M:%S 150MiB/s start" >> "$out/times"
timeout -k 5 280 /tmp/term16/bin/tlsterm "${args[@]}" -rounds "$rounds" -seconds 5 -rate 150 > "$out/term-150.md" 2> "$out/term-150.err"
date -u +"%H:%M:%S saturated start" >> "$out/times"
timeout -k 5 280 /tmp/term16/bin/tlsterm "${args[@]}" -rounds "$rounds" -seconds 5 > "$out/term-sat.md" 2> "$out/term-sat.err"
date -u +"%H:%M:%S end" >> "$out/times"

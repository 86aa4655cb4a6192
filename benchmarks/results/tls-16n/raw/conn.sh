#!/usr/bin/env bash
# tls-16n, part B: conncap.py with the server capped at 0.5 CPU, then uncapped (the driver's setting),
# in one measure window. usage: conn.sh OUTDIR ROUNDS SECONDS NAME=CMD...
set -u
out=$1; rounds=$2; secs=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
date -u +"%H:%M:%S capped start" >> "$out.times"
timeout -k 5 400 "$here/conncap.py" "$out/capped" "$rounds" "$secs" 0.5 "$@" > /dev/null
date -u +"%H:%M:%S uncapped start" >> "$out.times"
timeout -k 5 400 "$here/conncap.py" "$out/uncapped" "$rounds" "$secs" 0 "$@" > /dev/null
date -u +"%H:%M:%S end" >> "$out.times"

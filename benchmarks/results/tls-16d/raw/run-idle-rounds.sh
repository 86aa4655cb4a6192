#!/bin/sh
# The idle-after-handshake cell alone, five rounds (the two rounds of
# run-mem-term.sh spread 7.9–8.8 KiB for shardnet), one /work/bin/measure
# window; binaries as in run-mem-term.sh.
M=/tmp/h16/m2 B=/tmp/h16/before
OUT=$(cd "$(dirname "$0")" && pwd)
$M/tlsidle -bin $M -before $B/shardnet -servers shardnet,before,nethttp,nbio -states handshake -n 10000 -rounds 5 -port 19000 > $OUT/idle-handshake-5r.md

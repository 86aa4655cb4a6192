#!/bin/sh
# Idle TLS memory (shardnet at this commit, before = ceeb0ca, net/http,
# nbio's TLS) and proxy TLS termination (shardnet, before, HAProxy), one
# /work/bin/measure window. M holds shardnet (this commit), idleclient,
# peer-nbio, tlsidle and tlsterm, built beforehand under /work/bin/heavy;
# B holds shardnet built from ceeb0ca.
M=/tmp/h16/m2 B=/tmp/h16/before
OUT=$(cd "$(dirname "$0")" && pwd)
$M/tlsidle -bin $M -before $B/shardnet -servers shardnet,before,nethttp,nbio -n 10000 -rounds 2 -port 19400 > $OUT/idle.md
$M/tlsterm -bin $M -rounds 4 -seconds 5 -rate 150 -port 19500 > $OUT/term-150MiBps.md
$M/tlsterm -bin $B -rounds 3 -seconds 5 -rate 150 -port 19550 > $OUT/term-150MiBps-before.md
$M/tlsterm -bin $M -rounds 3 -seconds 5 -port 19600 > $OUT/term-saturated.md

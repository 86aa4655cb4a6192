#!/bin/bash
# issue 16b measurement: idle RSS, TLS termination, handshake flood.
B=/tmp/tls16b-bin
O=/tmp/tls16b-out
mkdir -p $O
cd /tmp
echo "== tlsidle start $(date -u +%T)"
timeout -k 5 200 $B/tlsidle -bin $B -n 10000 -rounds 2 > $O/idle.md 2> $O/idle.err
echo "== tlsterm saturating start $(date -u +%T)"
timeout -k 5 80 $B/tlsterm -bin $B -rounds 4 -seconds 5 > $O/term.md 2> $O/term.err
echo "== tlsterm 150 MiB/s start $(date -u +%T)"
timeout -k 5 60 $B/tlsterm -bin $B -rounds 3 -seconds 5 -rate 150 > $O/term-rate.md 2> $O/term-rate.err
echo "== flood start $(date -u +%T)"
cd /work/wt-tls16b/engine && timeout -k 5 80 $B/engine.test -test.run '^$' -test.bench TLSHandshakeFlood -test.benchtime 1x -test.count 3 > $O/flood.txt 2>&1
echo "== end $(date -u +%T)"

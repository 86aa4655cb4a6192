#!/usr/bin/env bash
# tls-16m: tlsconn (new TLS connections/s, one request each, full and resumed
# handshakes; one-P server, default config) of this branch ("shardnet", its
# benchmarks/bin built first by `bench -suites none`), main 9fad27b ("base",
# peer-shardnet and shardnet built into /tmp/onep16b/basebin) and net/http.
# Same method as tls-16l/raw/conn.sh, without its flood runs.
# usage: conn.sh RUN
set -u
r=$1
out=/tmp/onep16b/out/$r
mkdir -p $out
cd "$(dirname "$0")/../../.."
date -u +"%H:%M:%S tlsconn start" >> $out/times
/tmp/onep16b/benchdrv -prebuilt -suites tlsconn -rounds 3 -duration 2s -peers shardnet,base,nethttp \
  -extra-peer base=/tmp/onep16b/basebin -readme '' -out $out/tlsconn > $out/tlsconn.log 2>&1
date -u +"%H:%M:%S end" >> $out/times

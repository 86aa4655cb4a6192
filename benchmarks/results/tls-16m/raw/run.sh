#!/usr/bin/env bash
# tls-16m: flood runs of engine test binaries in /tmp/onep16b, interleaved per round.
#   run.sh RUN MODE N BIN...
# MODE one:   N rounds of pinned/share=0.5 (one P) per binary
# MODE two:   N rounds of shared (two Ps, shares 0.5 and 0.25) per binary
# MODE trace: N one-P runs of the first binary with tls-16h's diagnostics
#             (SHARDNET_FLOOD_LATLOG, the server's gctrace, SHARDNET_FLOOD_TRACE); big, kept in /tmp
# Output in /tmp/onep16b/out/RUN (BIN.txt, times); parse with ../../tls-16g/raw/parse.py.
# Same method as tls-16l/raw/ab.sh and trace.sh, with this worktree's paths.
set -u
r=$1; mode=$2; n=$3; shift 3
out=/tmp/onep16b/out/$r
mkdir -p $out
cd "$(dirname "$0")/../../../../engine"
for i in $(seq 1 $n); do
  for x in "$@"; do
    bin=/tmp/onep16b/$x.test
    date -u +"%H:%M:%S $x $i" >> $out/times
    case $mode in
    one) $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x >> $out/$x.txt 2>&1 ;;
    two) $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/shared' -test.benchtime 1x >> $out/$x.txt 2>&1 ;;
    trace)
      env SHARDNET_FLOOD_LATLOG=$out/p$i SHARDNET_FLOOD_SERVER_GODEBUG=gctrace=1 \
        SHARDNET_FLOOD_TRACE=$out/p$i-trace \
        $bin -test.run '^$' -test.bench 'TLSHandshakeFlood/pinned/share=0.5$' -test.benchtime 1x > $out/p$i.txt 2>&1
      break ;;
    esac
  done
done
date -u +"%H:%M:%S end" >> $out/times

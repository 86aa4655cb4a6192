#!/usr/bin/env bash
# pair.sh SHARDNET_BIN OUTDIR
#
# The profile pair behind RESULTS.md's share tables: net/http + crypto/tls
# (bin/peer-nethttp -tls) and `shardnet http -tls` (SHARDNET_BIN), c50 x1,
# at 33,000 and 53,000 requests/s (about 50 % and 80 % of net/http's
# saturated rate in the driver's runs), each through prof.sh (perf stat of
# the server's syscalls, perf record -g of CPU 0), then shares.py on each
# record. Run it under /work/bin/measure; writes OUTDIR/{NAME-RATE}.txt
# (the perf.data files stay in /tmp/h16-prof, too big for git).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1 out=$2
mkdir -p "$out"
cd "$here/../../.."   # benchmarks/
for rate in 33000 53000; do
  for p in nethttp:bin/peer-nethttp "shardnet:$bin"; do
    name=${p%%:*}
    "$here/prof.sh" "$name" "${p#*:}" "$rate" > /dev/null 2>&1
    {
      echo "# $name c50 x1 at $rate req/s; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%M:%S)"
      echo "## perf stat of the server process over 3 s (divide by $((rate * 3)) requests)"
      grep -E 'syscalls|context|task-clock' /tmp/h16-prof/$name.stat | grep -v ' 0 '
      echo "## httpsload"
      grep -E 'msgs_per_sec|latency' /tmp/h16-prof/$name.load.json
      echo "## CPU 0 over 3 s of perf record, by category"
      python3 "$here/shares.py" /tmp/h16-prof/$name.data $((rate * 3))
    } > "$out/$name-$rate.txt"
    mv /tmp/h16-prof/$name.data /tmp/h16-prof/$name-$rate.data
  done
done

#!/usr/bin/env bash
# profile.sh PEER SIZE PIPELINE [CONNS] [SECONDS]
#
# Where one peer's echo server spends its time, with the driver's placement
# (server on CPU 0, GOMAXPROCS=1, one loop; `shardnet bench` on CPU 1):
#   1. a CPU profile (pprof -top) over a run;
#   2. syscalls per message: strace -c -f on the server over a second run,
#      divided by the messages bench counted (strace slows the server, so
#      the rate of that run is not a figure; the counts per message are).
# Writes results/profile/PEER-SIZE-xPIPELINE.txt. Run `go run ./cmd/bench
# -suites none` (or any run) first so bin/ holds the binaries. PEER c (the
# C server) has no pprof: only the syscall count runs for it.
set -euo pipefail
cd "$(dirname "$0")"
peer=$1 size=$2 pl=$3 conns=${4:-100} secs=${5:-5}
out=results/profile/$peer-$size-x$pl.txt
mkdir -p results/profile
port=$((27000 + RANDOM % 2000))
prof=$(mktemp /tmp/peer-prof.XXXXXX)

run_server() { taskset -c 0 env GOMAXPROCS=1 bin/peer-"$peer" -mode echo -addr 127.0.0.1:$port -loops 1 "$@" >/dev/null 2>&1 & echo $!; }
run_client() { taskset -c 1 env GOMAXPROCS=1 bin/shardnet bench -addr 127.0.0.1:$port -c "$conns" -size "$size" -pipeline "$pl" -duration "$1" -shards 1 -json 2>/dev/null; }
msgs() { sed -n 's/.*"messages": \([0-9]*\).*/\1/p'; }

{
echo "# $peer echo, $conns connections, $size B, pipeline $pl; $(git rev-parse --short HEAD); load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$peer" != c ]; then
pid=$(run_server -cpuprofile "$prof"); sleep 0.5
n=$(run_client ${secs}s | msgs)
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
echo "## CPU profile over ${secs}s, $n messages"
go tool pprof -top -nodecount=30 bin/peer-"$peer" "$prof" 2>/dev/null | sed -n '1,40p'
fi

port=$((port + 1))
pid=$(run_server); sleep 0.5
strace -c -f -q -o /tmp/strace.$$ -p "$pid" & st=$!
sleep 0.5
n=$(run_client ${secs}s | msgs)
kill -INT "$st"; wait "$st" 2>/dev/null || true
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
echo
echo "## syscalls under strace -c -f, $n messages (calls per message in the last column)"
awk -v n="$n" 'NR<=2 {print; next} /^-/ {print; next} {printf "%s   %.4f\n", $0, ($4+0)/n}' /tmp/strace.$$
rm -f /tmp/strace.$$ "$prof"
} > "$out"
cat "$out"

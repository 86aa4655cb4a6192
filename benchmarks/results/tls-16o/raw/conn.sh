#!/usr/bin/env bash
# tls-16o: runs tls-16n's raw/conncap.py (server capped at 0.5 CPU in a cgroup, tlsconnload -c 16
# on the other CPU; needs root) with this run's paths: binaries, certificate and cgroup under
# $B (default /tmp/resume16) instead of tls-16n's /tmp/term16, and a cgroup of its own.
# usage: conn.sh OUT ROUNDS SECONDS CAP NAME=CMD...   (MODES=full,resumed as conncap.py)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/resume16}
sed "s#/tmp/term16#$B#g; s#cpu/tls16n#cpu/tls16o#" "$here/../../tls-16n/raw/conncap.py" > "$B/conncap.py"
exec timeout -k 5 590 python3 "$B/conncap.py" "$@"

#!/usr/bin/env bash
# paired, interleaved flood runs: build A against build B (engine test binaries in /tmp/fl16j),
# the shared cells (two Ps; shares 0.5 and 0.25) and pinned share=0.5 (one P)
# usage: run.sh RUN N A B  (run3.sh with two builds)
set -u
exec "$(dirname "$0")/run3.sh" "$1" "$2" "$3" "$4"

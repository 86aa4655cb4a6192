#!/bin/bash
# sampler.sh OUT: every 2 s, the processes that used CPU in the last 2 s (ticks, last CPU), to name co-runners.
snap() { for p in /proc/[0-9]*; do s=$(cat $p/stat 2>/dev/null) || continue; n=${s#*(}; n=${n%%)*}; r=${s##*) }; a=($r); echo "${p#/proc/} ${n// /_} $((${a[11]}+${a[12]})) ${a[36]}"; done | sort; }
prev=$(snap)
while :; do sleep 2; cur=$(snap); echo "# $(date -u +%T)"; join <(echo "$prev") <(echo "$cur") | awk '{d=$6-$3; if (d>=10) print "  ", $1, $2, d, "cpu" $7}' | sort -k4 -nr | head -8; prev=$cur; done > $1

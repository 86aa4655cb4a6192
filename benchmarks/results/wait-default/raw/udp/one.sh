#!/bin/bash
# one.sh WAIT SIZE RATE [EXTRAENV]: one fixed-rate spread UDP run (the udp-20c smoke shape) with
# where-did-it-go counters. Prints one summary line and details.
B=/work/wt-wait8/benchmarks/bin
wait=$1; size=$2; rate=$3; extra=${4:-X=1}
o=/tmp/w8/udp/run; mkdir -p $o
port=$((27000 + RANDOM % 1000))
taskset -c 0 env GOMAXPROCS=1 SHARDNET_WAIT=$wait $extra $B/shardnet udp-echo -addr udp://127.0.0.1:$port -shards 1 > $o/server.txt 2>&1 &
sp=$!
sleep 0.5
taskset -c 1 env GOMAXPROCS=1 $B/shardnet bench -udp -addr 127.0.0.1:$port -c 100 -size $size -pipeline 16 -shards 1 -duration 4s -udp-gso=false -rate $rate -json > $o/client.json 2>$o/client.err &
cp=$!
sleep 1
snap() { # $1 suffix
  grep -E '^cpu[01] ' /proc/stat > $o/stat$1
  grep -E 'NET_RX|NET_TX|TIMER|SCHED' /proc/softirqs > $o/softirq$1
  for p in /proc/[0-9]*; do s=$(cat $p/stat 2>/dev/null) || continue; n=${s#*(}; n=${n%%)*}; r=${s##*) }; a=($r); echo "${p#/proc/} $n $((${a[11]}+${a[12]}))"; done > $o/procs$1
  for t in /proc/$sp/task/*; do echo "$(basename $t) $(cut -d' ' -f1,2,3 $t/schedstat) $(grep -E '^(voluntary|nonvoluntary)' $t/status | awk '{printf "%s ", $2}')"; done > $o/th$1
  grep -A1 '^Udp:' /proc/net/snmp | tail -1 > $o/udp$1
}
snap 0; sleep 2; snap 1
wait $cp
kill $sp; wait $sp 2>/dev/null
jq -c '{sent_ps:.sent_per_sec|floor, got_ps:.msgs_per_sec|floor, lost, p99:.latency_us.p99, c:.client}' $o/client.json
# cpu fields: user nice system idle iowait irq softirq steal
paste $o/stat0 $o/stat1 | awk '{printf "  %s user %d sys %d idle %d irq %d soft %d steal %d (jiffies/2s)\n", $1, $13-$2, $15-$4, $16-$5, $18-$7, $19-$8, $20-$9}'
join <(sort $o/procs0) <(sort $o/procs1) | awk '{d=$5-$3; if (d>2) print "  proc", $1, $2, d, "ticks"}' | sort -k4 -nr | head -6
join $o/th0 $o/th1 | awk -v n=$((rate*2)) '{d=$7-$2; w=$8-$3; s=$9-$4; v=$10-$5; nv=$11-$6; if (d>1000000) printf "  tid %s: run %.0f ns/dgram, rq-wait %.0f ns/dgram, slices %d, vol %d invol %d\n", $1, d/n, w/n, s, v, nv}'
paste $o/udp0 $o/udp1 | awk '{n=NF/2; printf "  Udp delta: InDg %d NoPorts %d InErr %d OutDg %d RcvbufErr %d SndbufErr %d\n", $(n+2)-$2, $(n+3)-$3, $(n+4)-$4, $(n+5)-$5, $(n+6)-$6, $(n+7)-$7}'
paste $o/softirq0 $o/softirq1 | awk '{printf "  %s cpu0 %d cpu1 %d\n", $1, $5-$2, $6-$3}'
grep -iE "drop|datagram|err" $o/server.txt | head -5 | sed 's/^/  server: /'
echo "== wait=$wait size=$size rate=$rate $extra server_ticks=$(join <(sort $o/procs0) <(sort $o/procs1) | awk -v p=$sp '$1==p{print $5-$3}')"

package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// stat is one (suite, cell, peer)'s samples reduced to medians.
type stat struct {
	n, errors             int
	rate, lo, hi          float64
	offered               float64
	cpuNs, srvPct, cliPct float64
	coreNs, corePct       float64 // the server's pinned core (/proc/stat)
	srvIRQNs              float64 // the server's CPU plus its core's irq+softirq
	cliCorePct            float64
	p50, p99, allocs      float64
	notes                 []string
}

type key struct{ suite, cell, peer string }

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	v = slices.Clone(v)
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// aggregate reduces samples; runs with errors count in errors, not in
// the figures.
func aggregate(samples []Sample) (map[key]*stat, map[string][]string) {
	type acc struct{ rate, offered, cpu, srv, cli, core, srvIRQ, corePct, cliCore, p50, p99, allocs []float64 }
	accs := map[key]*acc{}
	stats := map[key]*stat{}
	order := map[string][]string{} // suite -> cells in order
	for _, s := range samples {
		k := key{s.Suite, s.Cell, s.Peer}
		if stats[k] == nil {
			stats[k] = &stat{}
			accs[k] = &acc{}
			if !slices.Contains(order[s.Suite], s.Cell) {
				order[s.Suite] = append(order[s.Suite], s.Cell)
			}
		}
		st, a := stats[k], accs[k]
		if s.Errors > 0 {
			st.errors += s.Errors
			if s.Note != "" && len(st.notes) < 2 {
				st.notes = append(st.notes, s.Note)
			}
			continue
		}
		st.n++
		a.rate = append(a.rate, s.Rate)
		if s.Note != "" && len(st.notes) < 2 {
			st.notes = append(st.notes, s.Note)
		}
		add := func(dst *[]float64, v float64) {
			if v >= 0 {
				*dst = append(*dst, v)
			}
		}
		add(&a.cpu, s.ServerCPUPerMsgNs)
		if s.Offered > 0 {
			a.offered = append(a.offered, s.Offered)
		}
		add(&a.core, s.CoreCPUPerMsgNs)
		add(&a.srvIRQ, srvIRQ(s))
		add(&a.corePct, s.CorePct)
		add(&a.cliCore, s.ClientCorePct)
		add(&a.srv, s.ServerCPUPct)
		add(&a.cli, s.ClientCPUPct)
		add(&a.p50, s.P50us)
		add(&a.p99, s.P99us)
		add(&a.allocs, s.AllocsPerMsg)
	}
	for k, st := range stats {
		a := accs[k]
		st.rate, st.cpuNs, st.srvPct, st.cliPct = median(a.rate), median(a.cpu), median(a.srv), median(a.cli)
		st.p50, st.p99, st.allocs = median(a.p50), median(a.p99), median(a.allocs)
		st.offered, st.coreNs, st.corePct, st.cliCorePct = median(a.offered), median(a.core), median(a.corePct), median(a.cliCore)
		st.srvIRQNs = median(a.srvIRQ)
		st.lo, st.hi = -1, -1
		if len(a.rate) > 0 {
			st.lo, st.hi = slices.Min(a.rate), slices.Max(a.rate)
		}
	}
	return stats, order
}

func human(v float64) string {
	switch {
	case v < 0:
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func num(v float64, format string) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

type reportOut struct{ markdown, readme string }

// suiteInfo says how each suite's figures read.
var suiteInfo = map[string]struct{ title, rate, cpu string }{
	"echo":        {"Echo at saturation, server pinned to CPU 0 (1 loop, GOMAXPROCS=1), `shardnet bench` pinned to CPU 1", "msgs/s", "server CPU ns/msg"},
	"echo-rate":   {"Echo at a fixed offered rate (`shardnet bench -rate`, a fraction of the slowest server's saturated msgs/s in this run), pinned as above", "msgs/s", "server CPU ns/msg"},
	"http":        {"HTTP plaintext at saturation, server pinned to CPU 0, wrk -t1 pinned to CPU 1 (x16: 16-deep pipelining)", "req/s", "server CPU ns/req"},
	"http-rate":   {"HTTP plaintext at a fixed offered rate (c/httpload, open loop, a fraction of the slowest server's saturated req/s under wrk in this run), pinned as above", "req/s", "server CPU ns/req"},
	"latency":     {"Latency at a fixed rate (bench -rate 20000, 50 connections, 64 B, one in flight), pinned", "msgs/s", "server CPU ns/msg"},
	"unpinned":    {"Echo with all cores: nothing pinned, 2 loops, GOMAXPROCS unset, bench with 2 shards", "msgs/s", "server CPU ns/msg"},
	"idle":        {"Server RSS per idle connection (RSS delta ÷ connections; the idle client is another process)", "bytes/conn", ""},
	"proxy":       {"TCP proxy: iperf3 (1 stream) through a proxy pinned to CPU 0 (one thread), iperf3 both ends on CPU 1", "Gbit/s", "proxy CPU ns/KiB"},
	"proxy-close": {"TCP proxy, short connections: wrk -t1 -c50 -H 'Connection: close' through a proxy pinned to CPU 0 (one thread) to `shardnet http -shards 1`, wrk and the backend on CPU 1; every request is a new client and a new backend connection (direct: wrk to the backend, whose figures these are)", "req/s", "proxy CPU ns/connection"},
	"proxy-idle":  {"TCP proxy, idle pairs: cmd/idleclient -echo (one byte echoed through each pair, then idle) through a proxy pinned to CPU 0 to `shardnet echo -shards 1`; proxy RSS delta ÷ pairs", "bytes/pair", ""},
	"kv":          {"kv: redis-benchmark (-c 50, -r 100000) on CPU 1 against a server on CPU 0 (shardnet kv -shards 1, redis-server)", "ops/s", "server CPU ns/op (SET+GET)"},
	// The standard stacks (stdstacks.go): "net" is the stack over Go's
	// net, "shardnet" the same stack over engine/netconn on one shard.
	"nethttp":      {"net/http (cmd/peer-nethttp, the same http.Server) over Go's net (net) and over shardnet's net.Conn adapter on one shard (shardnet), pinned to CPU 0, GOMAXPROCS=1; wrk -t1 pinned to CPU 1", "req/s", "server CPU ns/req"},
	"nethttp-rate": {"net/http over net and over the adapter at a fixed offered rate (c/httpload, a fraction of the slower one's saturated req/s under wrk in this run), pinned as above", "req/s", "server CPU ns/req"},
	"nethttp-idle": {"net/http over net and over the adapter: server RSS per idle keep-alive connection (each served one request first; RSS delta ÷ connections; the client is another process)", "bytes/conn", ""},
	"grpc":         {"grpc-go unary echo, 64 B (cmd/peer-grpc, the same grpc.Server) over Go's net (net) and over the adapter on one shard (shardnet), pinned to CPU 0, GOMAXPROCS=1; cmd/grpcload (grpc-go over net, 4 connections × 16 calls in flight) pinned to CPU 1", "calls/s", "server CPU ns/call"},
	"https":        {"HTTPS plaintext (TLS 1.3, X25519, AES-128-GCM, one ECDSA P-256 certificate) at saturation: shardnet http -tls on one shard, net/http + crypto/tls (peer-nethttp -tls), nbio with its TLS (peer-nbio -tls, llib's crypto/tls copy), nginx-light (one process), HAProxy (nbthread 1), each pinned to CPU 0; wrk -t1 over https:// pinned to CPU 1 (x16: 16-deep pipelining)", "req/s", "server CPU ns/req"},
	"https-rate":   {"HTTPS plaintext at a fixed offered rate (httpsload: c/httpload with OpenSSL, a fraction of the slowest server's saturated req/s under wrk in this run), pinned as above", "req/s", "server CPU ns/req"},
	"tlsconn":      {"New TLS 1.3 connections per second, one HTTPS request each (cmd/tlsconnload, 16 closed loops, Go crypto/tls client pinned to CPU 1; resumed: a shared ClientSessionCache, tickets), servers as in https", "conns/s", "server CPU ns/conn"},
	"grpc-rate":    {"grpc-go unary echo at a fixed offered rate (grpcload -rate, a fraction of the slower server's saturated calls/s in this run), pinned as above", "calls/s", "server CPU ns/call"},
	// The UDP suites (udp.go).
	"udp":      {"UDP echo at saturation: server pinned to CPU 0 (one loop, GOMAXPROCS=1; shardnet is `shardnet udp-echo -shards 1`), `shardnet bench -udp` (closed loop, one shard) pinned to CPU 1; cN: flows, xN: datagrams in flight per flow; the client sends each datagram as its own packet except in the gso cells", "datagrams/s", "server CPU ns/datagram"},
	"udp-rate": {"UDP echo at a fixed offered rate (`shardnet bench -udp -rate`, open loop, a fraction of the slowest server's saturated datagrams/s in this run), pinned as above", "datagrams/s", "server CPU ns/datagram"},
}

var suiteOrder = []string{"echo", "echo-rate", "http", "http-rate", "latency", "unpinned", "idle", "proxy", "proxy-close", "proxy-idle", "kv",
	"nethttp", "nethttp-rate", "nethttp-idle", "grpc", "grpc-rate", "udp", "udp-rate", "https", "https-rate", "tlsconn"}

// fixedRate says whether a suite's cells run at a fixed offered rate, where
// CPU per message and latency, not the rate, tell the servers apart.
func fixedRate(suite string) bool {
	return suite == "echo-rate" || suite == "http-rate" || suite == "latency" || suite == "nethttp-rate" || suite == "grpc-rate" || suite == "udp-rate" || suite == "https-rate"
}

func suitePeers(suite string) []string {
	switch suite {
	case "proxy":
		return proxyPeers
	case "proxy-close":
		return proxyClosePeers
	case "proxy-idle":
		return proxyIdlePeers
	case "kv":
		return kvPeers
	case "unpinned":
		return slices.DeleteFunc(slices.Clone(peers), func(p string) bool { return p == cPeer })
	}
	if isStdSuite(suite) {
		return stdPeers
	}
	if isUDPSuite(suite) {
		return udpPeers
	}
	if isHTTPSSuite(suite) {
		return httpsPeers
	}
	return peers
}

// measured lists the servers with figures in a suite: the suite's servers
// in their order, then any other found in the samples (an extra build of
// merged samples, say).
func measured(suite string, cells []string, stats map[key]*stat) []string {
	has := func(p string) bool {
		for _, c := range cells {
			if stats[key{suite, c, p}] != nil {
				return true
			}
		}
		return false
	}
	ps := slices.DeleteFunc(slices.Clone(suitePeers(suite)), func(p string) bool { return !has(p) })
	var more []string
	for k := range stats {
		if k.suite == suite && !slices.Contains(ps, k.peer) && !slices.Contains(more, k.peer) {
			more = append(more, k.peer)
		}
	}
	slices.Sort(more)
	return append(ps, more...)
}

func report(m *method, samples []Sample) reportOut {
	m.LoadEnd = loadavg()
	stats, order := aggregate(samples)
	var full, sum strings.Builder
	meth := methodMarkdown(m)
	targets := targetsMarkdown(stats, order)
	targets13 := targets13Markdown(samples, stats, order)
	targets14 := targets14Markdown(samples)
	targets20 := targets20Markdown(samples, stats, order)
	targets16 := targets16Markdown(samples)

	full.WriteString("# shardnet and its peers: results\n\nWritten by `cmd/bench`; the README's engines section summarises it. Raw output of every run is under [`raw/`](raw/), every sample in [`samples.json`](samples.json).\n\n")
	full.WriteString(meth)
	if targets13 != "" {
		full.WriteString("\n## Targets (issue 13)\n\n" + targets13)
		sum.WriteString(meth)
		sum.WriteString("\n### Targets (issue 13)\n\n" + targets13)
	} else {
		sum.WriteString(meth)
	}
	if targets14 != "" {
		full.WriteString("\n## Targets (issue 14: the standard stacks over the net.Conn adapter)\n\n" + targets14)
		sum.WriteString("\n### Targets (issue 14: the standard stacks over the net.Conn adapter)\n\n" + targets14)
	}
	if targets20 != "" {
		full.WriteString("\n## Targets (issue 20: UDP)\n\n" + targets20)
		sum.WriteString("\n### Targets (issue 20: UDP)\n\n" + targets20)
	}
	if targets16 != "" {
		full.WriteString("\n## Targets (issue 16)\n\n" + targets16)
		sum.WriteString("\n### Targets (issue 16)\n\n" + targets16)
	}
	full.WriteString("\n## Targets (issue 8)\n\n" + targets)
	sum.WriteString("\n### Targets (issue 8)\n\n" + targets)
	sum.WriteString("\n![echo msgs/s](results/echo-rate.svg)\n![echo server CPU per message](results/echo-cpu.svg)\n![HTTP req/s](results/http-rate.svg)\n")
	if len(order["echo-rate"]) > 0 {
		sum.WriteString("![echo at fixed rates: core CPU per message](results/echo-rate-core.svg)\n")
	}

	byRound, rounds := indexRounds(samples)
	for _, suite := range suiteOrder {
		cellsOf := order[suite]
		if len(cellsOf) == 0 {
			continue
		}
		info := suiteInfo[suite]
		ps := measured(suite, cellsOf, stats)
		withC := slices.Contains(ps, cPeer) && slices.Contains(ps, subject)
		// Summary: one row per cell, one column per peer, and shardnet ÷ C.
		fmt.Fprintf(&sum, "\n### %s\n\n%s, median of the rounds", suite, info.title)
		switch {
		case fixedRate(suite):
			fmt.Fprintf(&sum, " · %s · the core's busy ns/msg · p99 µs", info.cpu)
		case suite == "echo" || suite == "http" || suite == "unpinned" || suite == "proxy" || suite == "proxy-close" || suite == "nethttp" || suite == "grpc" || suite == "udp" || suite == "https" || suite == "tlsconn":
			fmt.Fprintf(&sum, " · %s · the server core's busy ns in the same unit (pinned cells)", info.cpu)
		case info.cpu != "":
			fmt.Fprintf(&sum, " · %s", info.cpu)
		}
		sum.WriteString(":\n\n| cell |")
		if fixedRate(suite) {
			sum.WriteString(" offered |")
		}
		for _, p := range ps {
			fmt.Fprintf(&sum, " %s |", p)
		}
		if withC {
			fmt.Fprintf(&sum, " %s ÷ C (%s) |", subject, keyMetric(suite).name)
		}
		n := len(ps)
		if fixedRate(suite) {
			n++
		}
		if withC {
			n++
		}
		sum.WriteString("\n|---|" + strings.Repeat("---:|", n) + "\n")
		for _, c := range cellsOf {
			fmt.Fprintf(&sum, "| %s |", c)
			if fixedRate(suite) {
				off := -1.0
				for _, p := range ps {
					if st := stats[key{suite, c, p}]; st != nil && st.offered > 0 {
						off = st.offered
						break
					}
				}
				fmt.Fprintf(&sum, " %s |", human(off))
			}
			for _, p := range ps {
				st := stats[key{suite, c, p}]
				switch {
				case st == nil:
					sum.WriteString(" |")
				case st.n == 0:
					sum.WriteString(" failed |")
				case fixedRate(suite):
					fmt.Fprintf(&sum, " %s · %s · %s |", num(st.cpuNs, "%.0f"), num(st.coreNs, "%.0f"), num(st.p99, "%.0f"))
				case st.coreNs >= 0:
					fmt.Fprintf(&sum, " %s · %s · %s |", human(st.rate), num(st.cpuNs, "%.0f"), num(st.coreNs, "%.0f"))
				case info.cpu != "" && st.cpuNs >= 0:
					fmt.Fprintf(&sum, " %s · %s |", human(st.rate), num(st.cpuNs, "%.0f"))
				default:
					fmt.Fprintf(&sum, " %s |", human(st.rate))
				}
			}
			if withC {
				fmt.Fprintf(&sum, " %s |", pairedRatios(byRound, suite, c, pair{subject, cPeer}, keyMetric(suite), rounds[suite]))
			}
			sum.WriteString("\n")
		}
		pairs := pairsOf(suite, ps)
		if len(pairs) > 0 {
			fmt.Fprintf(&sum, "\nPaired within each round, median (min–max) over the rounds:\n\n")
			pairedTable(&sum, byRound, rounds[suite], suite, cellsOf, pairs, keyMetric(suite))
		}
		// Full table: one row per cell and peer.
		fmt.Fprintf(&full, "\n## %s\n\n%s.\n\n", suite, info.title)
		fmt.Fprintf(&full, "| cell | peer | %s median | min–max | offered | %s | core ns/msg | server+irq ns/msg | server CPU %% | core %% | client CPU %% | client core %% | p50 µs | p99 µs | allocs/msg | runs | errors, notes |\n", info.rate, orDash(info.cpu))
		full.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, c := range cellsOf {
			for _, p := range ps {
				st := stats[key{suite, c, p}]
				if st == nil {
					continue
				}
				notes := strings.ReplaceAll(strings.Join(st.notes, "; "), "|", "/")
				errs := notes
				if st.errors > 0 {
					errs = fmt.Sprintf("%d: %s", st.errors, notes)
				}
				fmt.Fprintf(&full, "| %s | %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", c, p,
					human(st.rate), human(st.lo), human(st.hi), human(st.offered), num(st.cpuNs, "%.0f"), num(st.coreNs, "%.0f"), num(st.srvIRQNs, "%.0f"),
					num(st.srvPct, "%.0f"), num(st.corePct, "%.0f"), num(st.cliPct, "%.0f"), num(st.cliCorePct, "%.0f"),
					num(st.p50, "%.0f"), num(st.p99, "%.0f"), num(st.allocs, "%.3f"), st.n, errs)
			}
		}
		if len(pairs) > 0 {
			fmt.Fprintf(&full, "\nPaired within each round (%s ÷ peer in the same round), median (min–max) over the rounds:\n", pairs[0].num)
			for _, m := range suiteMetrics(suite) {
				full.WriteString("\n")
				pairedTable(&full, byRound, rounds[suite], suite, cellsOf, pairs, m)
			}
		}
	}
	return reportOut{markdown: full.String(), readme: sum.String()}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func methodMarkdown(m *method) string {
	var b strings.Builder
	dirty := ""
	if m.Dirty {
		dirty = " (with uncommitted changes)"
	}
	pin := "server `taskset -c 0`, GOMAXPROCS=1, one loop; client `taskset -c 1`, GOMAXPROCS=1 (bench -shards 1, wrk -t1)"
	if !m.Pinned {
		pin = "not pinned (taskset missing or one CPU)"
	}
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs; kernel %s; %s; commit `%s`%s; %s.\n", m.CPU, m.CPUs, m.Kernel, m.Go, m.Commit, dirty, m.Date)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min) at start: %s; at end: %s. Elapsed %s.\n", m.LoadStart, m.LoadEnd, m.Elapsed)
	fmt.Fprintf(&b, "- Pinning: %s.\n", pin)
	fmt.Fprintf(&b, "- Each run %s; %d rounds, the servers interleaved in every round (%s, then again); idle, unpinned and kv at most 3 rounds. Figures are medians of the rounds; min–max in RESULTS.md. **Paired** ratios (shardnet ÷ peer) are taken within each round and given as median (min–max) over the rounds.\n", m.Duration, m.Rounds, strings.Join(peers, " "))
	fr := make([]string, len(m.Fractions))
	for i, f := range m.Fractions {
		fr[i] = fmt.Sprintf("%.0f %%", 100*f)
	}
	fmt.Fprintf(&b, "- Fixed-rate cells (echo-rate, http-rate): each echo and HTTP cell again at %s of the slowest server's median saturated rate in this run (the same offered rate for every server of the cell); echo paced by `shardnet bench -rate`, HTTP by `c/httpload` (open loop like wrk2, which Debian does not ship; it primes every connection with one untimed request before its clock starts, so p99 times the steady state, not the server's start on a burst of new connections). Both send on a 100 µs schedule and time a message that left late from when it was due (coordinated omission corrected). A run that delivered under 97 %% of the offered rate is noted.\n", strings.Join(fr, " and "))
	b.WriteString("- Server CPU per message (\"server\" or \"srv\"): the run time of the server process's threads (/proc/PID/task/*/schedstat, ns; /proc/PID/stat's utime+stime if missing), sampled 0.2 s after the load starts counting and 0.1 s before it ends, divided by the messages the client counted over the same time. **Core CPU per message** (\"core\"): the busy time of the server's pinned CPU 0 over the same window (the window less CPU 0's idle time: its cpuidle states' residency in µs, else idle+iowait+steal from /proc/stat; not the sum of user, system, irq and softirq, which this kernel samples at the tick and undercounts for a server at a moderate rate) ÷ the same messages: on loopback it includes the receive processing of the server's packets that runs in softirq, which /proc/PID/stat does not charge to the process, and anything else that ran on CPU 0. **Server+irq**: the process's time plus CPU 0's irq+softirq ticks, per message: other processes' user and system time on CPU 0 do not inflate it, but the tick-sampled irq part undercounts at moderate rates. Client CPU % the same ways. allocs/msg: runtime.MemStats.Mallocs in the server over that window (read on SIGUSR1) ÷ messages.\n")
	b.WriteString("- C: `c/peer.c` (`gcc -O2`), one thread, level-triggered epoll, one 64 KiB read buffer, writes what it read, a pending buffer only when the socket is full; HTTP mode answers the Go peers' exact bytes. The one-core limit of the epoll interface; not in the unpinned suite (one thread).\n")
	fmt.Fprintf(&b, "- RPS/RFS on lo: %s (all 0: off, the kernel's default, which the suites assume: loopback runs the receiver's TCP processing in the sender's softirq; README says what turning it on did).\n", m.RPS)
	for _, e := range m.Extras {
		fmt.Fprintf(&b, "- Extra shardnet build %s.\n", e)
	}
	fmt.Fprintf(&b, "- Tools: `shardnet bench` (this commit; echo bytes verified), `c/httpload` (responses verified), %s, %s, %s, %s, %s.\n", m.Wrk, m.Iperf3, m.HAProxy, m.Redis, m.GCC)
	fmt.Fprintf(&b, "- Idle: %d connections from 127.0.0.2–5 held by `cmd/idleclient` (a separate process), RSS from /proc/PID/status before any and 1 s after the server holds them all.\n", m.IdleConns)
	fmt.Fprintf(&b, "- Command: `%s`.\n", m.Command)
	return b.String()
}

// verdict is a target's verdict: "met", or "**missed**" in bold.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// targetsMarkdown compares shardnet with the targets of issue 8.
func targetsMarkdown(stats map[key]*stat, order map[string][]string) string {
	var b strings.Builder
	b.WriteString("| target | cell | measured | verdict |\n|---|---|---|---|\n")
	row := func(target, cell, measured, verdict string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", target, cell, measured, verdict)
	}
	get := func(suite, cell, peer string) *stat {
		st := stats[key{suite, cell, peer}]
		if st == nil || st.n == 0 {
			return nil
		}
		return st
	}
	for _, suite := range []string{"echo", "unpinned"} {
		for _, c := range order[suite] {
			sh := get(suite, c, "shardnet")
			var best *stat
			bestName := ""
			for _, p := range goPeers {
				if st := get(suite, c, p); st != nil && (best == nil || st.rate > best.rate) {
					best, bestName = st, p
				}
			}
			if sh == nil || best == nil {
				row("echo ≥1.1× best Go peer", suite+" "+c, "no data", "–")
				continue
			}
			r := sh.rate / best.rate
			cr := sh.cpuNs / best.cpuNs
			measured := fmt.Sprintf("%.2f× %s (%s vs %s msgs/s); CPU/msg %.2f× (%.0f vs %.0f ns); client CPU %.0f%%", r, bestName, human(sh.rate), human(best.rate), cr, sh.cpuNs, best.cpuNs, sh.cliPct)
			verdict := "**missed**"
			switch {
			case r >= 1.1:
				verdict = "met (≥1.1×)"
			case sh.cliPct > 90 && r >= 0.97 && cr <= 0.91:
				verdict = "met (client-bound: rate within 3%, CPU/msg ≤0.91×)"
			}
			row("echo ≥1.1× best Go peer, or equal at ≤0.91× CPU when client >90%", suite+" "+c, measured, verdict)
		}
	}
	for _, c := range order["latency"] {
		sh := get("latency", c, "shardnet")
		var best *stat
		bestName := ""
		for _, p := range goPeers {
			if st := get("latency", c, p); st != nil && st.p99 >= 0 && (best == nil || st.p99 < best.p99) {
				best, bestName = st, p
			}
		}
		if sh == nil || best == nil {
			continue
		}
		row("p99 ≤ best Go peer's", c, fmt.Sprintf("shardnet p99 %.0f µs (p50 %.0f) vs %s %.0f µs (p50 %.0f)", sh.p99, sh.p50, bestName, best.p99, best.p50), verdict(sh.p99 <= best.p99))
	}
	for _, c := range order["http"] {
		sh, g := get("http", c, "shardnet"), get("http", c, "gnet")
		if sh == nil || g == nil {
			continue
		}
		r := sh.rate / g.rate
		row("HTTP ≥1.1× gnet", c, fmt.Sprintf("%.2f× (%s vs %s req/s); CPU/req %.2f×; client CPU %.0f%%", r, human(sh.rate), human(g.rate), sh.cpuNs/g.cpuNs, sh.cliPct), verdict(r >= 1.1))
	}
	for _, c := range order["idle"] {
		if sh := get("idle", c, "shardnet"); sh != nil {
			bestName, best := "", -1.0
			for _, p := range goPeers {
				if st := get("idle", c, p); st != nil && (best < 0 || st.rate < best) {
					best, bestName = st.rate, p
				}
			}
			row("idle ≤256 B/conn", c, fmt.Sprintf("%.0f B/conn (best Go peer %s %.0f B)", sh.rate, bestName, best), verdict(sh.rate <= 256))
		}
	}
	for _, c := range order["proxy"] {
		h := get("proxy", c, "haproxy")
		for _, p := range []string{"shardnet", "shardnet-splice"} {
			sh := get("proxy", c, p)
			if sh == nil || h == nil {
				continue
			}
			r := sh.rate / h.rate
			row("proxy ≥ HAProxy", c+" ("+p+")", fmt.Sprintf("%.2f× (%.1f vs %.1f Gbit/s)", r, sh.rate, h.rate), verdict(r >= 1))
		}
	}
	for _, c := range order["kv"] {
		sh, rd := get("kv", c, "shardnet"), get("kv", c, "redis")
		if sh == nil || rd == nil {
			continue
		}
		r := sh.rate / rd.rate
		row("kv ≥ redis-server", c, fmt.Sprintf("%.2f× (%s vs %s ops/s)", r, human(sh.rate), human(rd.rate)), verdict(r >= 1))
	}
	worst, where := -1.0, ""
	for _, suite := range []string{"echo", "http"} {
		for _, c := range order[suite] {
			if sh := get(suite, c, "shardnet"); sh != nil && sh.allocs > worst {
				worst, where = sh.allocs, suite+" "+c
			}
		}
	}
	if worst >= 0 {
		row("zero allocations per message", "echo and http cells", fmt.Sprintf("highest median %.4f allocs/msg (%s)", worst, where), verdict(worst < 0.001))
	}
	return b.String()
}

// The README keeps its other sections; this one sits between the markers.
const (
	readmeBegin = "<!-- engines:begin (written by cmd/bench) -->"
	readmeEnd   = "<!-- engines:end -->"
)

func updateReadme(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	block := readmeBegin + "\n" + section + readmeEnd
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(readmeEnd):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n## engines: results\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// targets13Markdown compares shardnet with the targets of issue 13, by
// paired ratios: at the fixed rates, the core's CPU per message at most
// 0.91× the best Go peer's and 1.10× the C server's, p99 no worse than the
// best Go peer's; at saturation, msgs/s at least the best Go peer's; HTTP
// at the fixed rates, CPU per request at most 0.91× gnet's. The best Go
// peer of a cell is the one with the best median of the figure compared.
func targets13Markdown(samples []Sample, stats map[key]*stat, order map[string][]string) string {
	by, rounds := indexRounds(samples)
	t := newTargetTable("| target | cell | paired, median (min–max) | verdict |\n|---|---|---|---|\n")
	row := func(target, cell, measured string, ok bool) { t.add(target, cell, measured, verdict(ok)) }
	// best returns the Go peer with the lowest (or highest) median of f.
	best := func(suite, cell string, f func(*stat) float64, lowest bool) string {
		name, bv := "", 0.0
		for _, p := range goPeers {
			st := stats[key{suite, cell, p}]
			if st == nil || st.n == 0 || f(st) <= 0 {
				continue
			}
			if v := f(st); name == "" || (lowest && v < bv) || (!lowest && v > bv) {
				name, bv = p, v
			}
		}
		return name
	}
	cpuMetric := func(suite, cell string) (metric, func(*stat) float64) {
		if st := stats[key{suite, cell, "shardnet"}]; st != nil && st.coreNs > 0 {
			return mCoreCPU, func(s *stat) float64 { return s.coreNs }
		}
		return mCPU, func(s *stat) float64 { return s.cpuNs }
	}
	for _, c := range order["echo-rate"] {
		m, f := cpuMetric("echo-rate", c)
		if g := best("echo-rate", c, f, true); g != "" {
			r := pairedRatios(by, "echo-rate", c, pair{"shardnet", g}, m, rounds["echo-rate"])
			if len(r) > 0 {
				row("echo fixed rate: "+m.name+" ≤ 0.91× best Go peer", c, fmt.Sprintf("%s %s", r, g), median(r) <= 0.91)
			}
		}
		if r := pairedRatios(by, "echo-rate", c, pair{"shardnet", cPeer}, m, rounds["echo-rate"]); len(r) > 0 {
			row("echo fixed rate: "+m.name+" ≤ 1.10× C", c, r.String(), median(r) <= 1.10)
		}
		if g := best("echo-rate", c, func(s *stat) float64 { return s.p99 }, true); g != "" {
			r := pairedRatios(by, "echo-rate", c, pair{"shardnet", g}, mP99, rounds["echo-rate"])
			if len(r) > 0 {
				row("echo fixed rate: p99 ≤ best Go peer's", c, fmt.Sprintf("%s %s", r, g), median(r) <= 1)
			}
		}
	}
	for _, c := range order["echo"] {
		if g := best("echo", c, func(s *stat) float64 { return s.rate }, false); g != "" {
			r := pairedRatios(by, "echo", c, pair{"shardnet", g}, mRate, rounds["echo"])
			if len(r) > 0 {
				row("echo saturated: msgs/s ≥ best Go peer's", c, fmt.Sprintf("%s %s", r, g), median(r) >= 1)
			}
		}
	}
	for _, c := range order["http-rate"] {
		m, _ := cpuMetric("http-rate", c)
		if r := pairedRatios(by, "http-rate", c, pair{"shardnet", "gnet"}, m, rounds["http-rate"]); len(r) > 0 {
			row("HTTP fixed rate: "+m.name+" ≤ 0.91× gnet", c, r.String(), median(r) <= 0.91)
		}
	}
	return t.String()
}

// targetTable is a Markdown table of targets being built: its header,
// then a row per measured cell. It reads as "" when no cell was measured,
// so a run without the suites leaves the section out.
type targetTable struct {
	b    strings.Builder
	rows int
}

func newTargetTable(header string) *targetTable {
	t := &targetTable{}
	t.b.WriteString(header)
	return t
}

// add writes one row of cells.
func (t *targetTable) add(cells ...string) {
	fmt.Fprintf(&t.b, "| %s |\n", strings.Join(cells, " | "))
	t.rows++
}

// ratioRow adds a row for paired ratios r, or nothing when there are none.
func (t *targetTable) ratioRow(target, cell string, r ratios, verdict string) {
	if len(r) > 0 {
		t.add(target, cell, r.String(), verdict)
	}
}

func (t *targetTable) String() string {
	if t.rows == 0 {
		return ""
	}
	return t.b.String()
}

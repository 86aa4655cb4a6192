package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// figure is one figure of a sample, for tables and ratios.
type figure struct {
	name string
	get  func(sample) float64
}

var (
	callsPerSec = figure{"calls/s", func(s sample) float64 { return s.callsPerSec }}
	cpuPerCall  = figure{"server CPU/call", func(s sample) float64 { return s.cpuPerCall }}
	corePerCall = figure{"core CPU/call", func(s sample) float64 { return s.corePerCall }}
	noSysmon    = figure{"server CPU/call less sysmon", func(s sample) float64 { return s.cpuPerCall - s.sysmon }}
)

// paired returns shardnet's figure ÷ name's, taken within each round
// (rounds where either run failed are left out), as median, min, max and
// the list.
func paired(a, b []sample, f figure) (m, lo, hi float64, each []float64) {
	for i := range min(len(a), len(b)) {
		if a[i].failed || b[i].failed || f.get(b[i]) == 0 {
			continue
		}
		each = append(each, f.get(a[i])/f.get(b[i]))
	}
	if len(each) == 0 {
		return 0, 0, 0, nil
	}
	v := slices.Clone(each)
	slices.Sort(v)
	return v[len(v)/2], v[0], v[len(v)-1], each
}

func ratioText(m, lo, hi float64, each []float64) string {
	if len(each) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("**%.2f×** (%.2f–%.2f)", m, lo, hi)
}

func listText(each []float64) string {
	var parts []string
	for _, v := range each {
		parts = append(parts, fmt.Sprintf("%.2f", v))
	}
	return strings.Join(parts, ", ")
}

// summary renders the setup, every figure, the paired ratios and the
// issue's targets.
func summary(cfg config, res results, offered map[int][]int, start time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## RPC: shardnet tools/rpc vs grpc-go (%d rounds, %v per run, %d conns; saturation: %d in flight per conn; fixed rates: 4 per conn)\n\n",
		cfg.rounds, cfg.duration, cfg.conns, cfg.inflight)
	load, _ := os.ReadFile("/proc/loadavg")
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	fmt.Fprintf(&b, "- Started %s UTC, took %v; %s, %d CPUs; commit `%s`; load average at the end: %s.\n",
		start.UTC().Format("2006-01-02 15:04"), time.Since(start).Round(time.Second), runtime.Version(), runtime.NumCPU(),
		strings.TrimSpace(string(commit)), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(&b, "- Command: `go run ./cmd/peer-rpc-compare %s`.\n", strings.Join(os.Args[1:], " "))
	b.WriteString("- Server on CPU 0, its client on CPU 1: each stack's own client (grpc-go's for grpc and grpc-netconn, shardnet rpc-bench on tools/rpc for the others), the same machine setup for all. At saturation rpc-bench keeps each call slot on one connection and holds the calls a connection starts while it has more in flight (rpc.WithCoalescing), so they leave in one writev; at a fixed rate it sends call i on connection i%c without holding, as the grpc client does. Server figures over each run less its first 0.5 s and last 0.2 s. *server*: the process's threads' run time; *sysmon*: the part of it run by the Go runtime's sysmon thread; *core*: CPU 0's busy time (adds softirq and interrupts on the server's core); *reads*, *writes*: the server's read- and write-type system calls (/proc/PID/io); *slices*: times its threads were scheduled in. All per call. Ratios are -subject ÷ peer within each round, median (min–max) over the rounds.\n")
	if cfg.netns != "off" {
		fmt.Fprintf(&b, "- -netns %s: the runs named PEER%s had the server in one network namespace (%s) and its client in another (%s), joined by a veth pair (MTU 1500, the kernel's offloads as they come), with RPS steering each veth's receive processing to its side's CPU (the server's to CPU 0, the client's to CPU 1): each side's CPU does its own TCP receive work, as two hosts would. Ratios are taken between runs of the same way only.\n", cfg.netns, netnsSuffix, serverHost, clientHost)
	}
	b.WriteString("\n")
	for _, size := range cfg.sizes {
		fmt.Fprintf(&b, "### %d B request, %d B answer\n\n", size, size)
		b.WriteString("| server | run | calls/s median (min–max) | server % | core % | client % | server µs/call median (min–max) | sysmon µs/call | core µs/call | reads/call | writes/call | slices/call | p50 µs | p99 µs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range cfg.peers {
			for ri, runs := range res[size] {
				ss := runs[name]
				kind := "saturation"
				if ri > 0 {
					kind = fmt.Sprintf("%d/s", offered[size][ri-1])
				}
				c, clo, chi := med(ss, callsPerSec.get)
				if n := countFailed(ss); n > 0 {
					kind += fmt.Sprintf(" (%d failed runs, counted as 0)", n)
				}
				if ri > 0 && clo < 0.97*float64(offered[size][ri-1]) {
					kind += " (a run under 97 % of the offered rate)"
				}
				g := func(f func(sample) float64) float64 { m, _, _ := med(ss, f); return m }
				p, plo, phi := med(ss, cpuPerCall.get)
				fmt.Fprintf(&b, "| %s | %s | %.0f (%.0f–%.0f) | %.0f | %.0f | %.0f | %.2f (%.2f–%.2f) | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |\n",
					name, kind, c, clo, chi,
					100*g(func(s sample) float64 { return s.serverCPU }), 100*g(func(s sample) float64 { return s.coreCPU }),
					100*g(func(s sample) float64 { return s.clientCPU }), p, plo, phi,
					g(func(s sample) float64 { return s.sysmon }), g(corePerCall.get),
					g(func(s sample) float64 { return s.reads }), g(func(s sample) float64 { return s.writes }),
					g(func(s sample) float64 { return s.slices }), g(func(s sample) float64 { return s.p50 }), g(func(s sample) float64 { return s.p99 }))
			}
		}
		for _, subj := range subjects(cfg) {
			fmt.Fprintf(&b, "\nPaired ratios, %s ÷ peer:\n\n| peer |", subj)
			b.WriteString(" calls/s at saturation | server CPU/call at saturation |")
			for _, r := range offered[size] {
				fmt.Fprintf(&b, " server CPU/call at %d/s | core CPU/call at %d/s | server less sysmon at %d/s |", r, r, r)
			}
			b.WriteString("\n|---|---:|---:|")
			for range offered[size] {
				b.WriteString("---:|---:|---:|")
			}
			b.WriteString("\n")
			for _, name := range cfg.peers {
				if name == subj || method(name) != method(subj) {
					continue
				}
				fmt.Fprintf(&b, "| %s | %s | %s |", name,
					ratioText(paired(res[size][0][subj], res[size][0][name], callsPerSec)),
					ratioText(paired(res[size][0][subj], res[size][0][name], cpuPerCall)))
				for ri := range offered[size] {
					runs := res[size][ri+1]
					for _, f := range []figure{cpuPerCall, corePerCall, noSysmon} {
						fmt.Fprintf(&b, " %s |", ratioText(paired(runs[subj], runs[name], f)))
					}
				}
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "\nPer round (%s ÷ peer, rounds in order):\n\n", subj)
			for _, name := range cfg.peers {
				if name == subj || method(name) != method(subj) {
					continue
				}
				_, _, _, sat := paired(res[size][0][subj], res[size][0][name], callsPerSec)
				fmt.Fprintf(&b, "- %s: calls/s at saturation %s", name, listText(sat))
				for ri, r := range offered[size] {
					runs := res[size][ri+1]
					_, _, _, cpu := paired(runs[subj], runs[name], cpuPerCall)
					_, _, _, core := paired(runs[subj], runs[name], corePerCall)
					fmt.Fprintf(&b, "; server CPU/call at %d/s %s; core CPU/call %s", r, listText(cpu), listText(core))
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("### Targets (issue 15)\n\n| target | size | against | paired, median (min–max) | verdict |\n|---|---|---|---|---|\n")
	for _, subj := range subjects(cfg) {
		for _, size := range cfg.sizes {
			for _, name := range []string{"grpc" + method(subj), "grpc-netconn" + method(subj)} {
				if !slices.Contains(cfg.peers, name) {
					continue
				}
				m, lo, hi, each := paired(res[size][0][subj], res[size][0][name], callsPerSec)
				fmt.Fprintf(&b, "| calls/s at saturation ≥ 3× | %d B | %s ÷ %s | %s | %s |\n", size, subj, name, ratioText(m, lo, hi, each), verdict(len(each) > 0 && m >= 3))
				for ri, r := range offered[size] {
					runs := res[size][ri+1]
					m, lo, hi, each := paired(runs[subj], runs[name], cpuPerCall)
					fmt.Fprintf(&b, "| server CPU/call at a fixed rate ≤ 1/3 | %d B @ %d/s | %s ÷ %s | %s | %s |\n", size, r, subj, name, ratioText(m, lo, hi, each), verdict(len(each) > 0 && m <= 1.0/3))
				}
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// subjects are the servers whose ratios the tables give (-subject), those
// of them that ran.
func subjects(cfg config) []string {
	var out []string
	for _, s := range cfg.subjects {
		if slices.Contains(cfg.peers, s) {
			out = append(out, s)
		}
	}
	return out
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

func countFailed(ss []sample) int {
	n := 0
	for _, s := range ss {
		if s.failed {
			n++
		}
	}
	return n
}

package main

import (
	"fmt"
	"slices"
	"strings"
)

// Paired rounds: in each round every peer of a cell runs once, one after
// the other, so two peers' figures of one round met the same machine. A
// ratio taken within a round (shardnet ÷ peer) cancels what the round had
// in common — another engineer's test suite, a busy minute — which the
// medians of absolute figures do not. The tables give the median ratio and
// its min–max over the rounds.

// metric is one figure of a sample; -1 when the sample has none.
type metric struct {
	name  string
	value func(Sample) float64
	// higher says which way is better, for the reader: "higher" or "lower".
	better string
}

var (
	mRate    = metric{"rate", func(s Sample) float64 { return s.Rate }, "higher"}
	mCPU     = metric{"server CPU/msg", func(s Sample) float64 { return s.ServerCPUPerMsgNs }, "lower"}
	mCoreCPU = metric{"core CPU/msg", func(s Sample) float64 { return s.CoreCPUPerMsgNs }, "lower"}
	mSrvIRQ  = metric{"server+irq CPU/msg", srvIRQ, "lower"}
	mP99     = metric{"p99", func(s Sample) float64 { return s.P99us }, "lower"}
	mSize    = metric{"bytes/conn", func(s Sample) float64 { return s.Rate }, "lower"}
)

// srvIRQ is the server process's CPU per message plus its core's irq and
// softirq time per message, or -1.
func srvIRQ(s Sample) float64 {
	if s.ServerCPUPerMsgNs < 0 || s.IRQCPUPerMsgNs < 0 {
		return -1
	}
	return s.ServerCPUPerMsgNs + s.IRQCPUPerMsgNs
}

// keyMetric is the figure a suite's paired table compares: the rate at
// saturation, the core's CPU per message at a fixed rate (it counts the
// softirq work the process's own time leaves out), p99 for the latency
// cell.
func keyMetric(suite string) metric {
	switch suite {
	case "echo-rate", "http-rate", "nethttp-rate", "grpc-rate", "udp-rate", "https-rate":
		return mCoreCPU
	case "latency":
		return mP99
	case "idle", "nethttp-idle", "proxy-idle":
		return mSize
	}
	return mRate
}

// suiteMetrics are the figures RESULTS.md pairs for a suite.
func suiteMetrics(suite string) []metric {
	switch suite {
	case "echo", "http", "unpinned", "proxy", "proxy-close", "nethttp", "grpc", "udp", "https", "tlsconn":
		return []metric{mRate, mCPU, mCoreCPU, mSrvIRQ}
	case "echo-rate", "http-rate", "latency", "nethttp-rate", "grpc-rate", "udp-rate", "https-rate":
		return []metric{mCoreCPU, mCPU, mSrvIRQ, mP99}
	case "idle", "nethttp-idle", "proxy-idle":
		return []metric{mSize}
	}
	return []metric{mRate}
}

// pair is one comparison: num ÷ den.
type pair struct{ num, den string }

// subject is the server whose ratios the paired tables give (-subject):
// shardnet, or an extra build when two builds other than this tree's are
// compared. Set once in main.
var subject = "shardnet"

// pairsOf lists the comparisons of a suite: subject ÷ every other server
// (the C server, the Go peers, extra builds), and in the proxy suite also
// subject-splice ÷ each other splicing proxy and HAProxy.
func pairsOf(suite string, ps []string) []pair {
	var out []pair
	splice := func(p string) bool { return strings.HasSuffix(p, "-splice") }
	if !slices.Contains(ps, subject) {
		return nil
	}
	for _, p := range ps {
		if p != subject && p != "direct" && !splice(p) {
			out = append(out, pair{subject, p})
		}
	}
	if sp := subject + "-splice"; suite == "proxy" && slices.Contains(ps, sp) {
		for _, p := range ps {
			if p != sp && (splice(p) || p == "haproxy") {
				out = append(out, pair{sp, p})
			}
		}
	}
	return out
}

// roundKey finds one peer's sample of one round.
type roundKey struct {
	suite, cell, peer string
	round             int
}

// ratios are num ÷ den of a metric in every round where both ran without
// errors and have the figure.
type ratios []float64

func pairedRatios(byRound map[roundKey]Sample, suite, cell string, p pair, m metric, rounds []int) ratios {
	var r ratios
	for _, n := range rounds {
		a, okA := byRound[roundKey{suite, cell, p.num, n}]
		b, okB := byRound[roundKey{suite, cell, p.den, n}]
		if !okA || !okB {
			continue
		}
		va, vb := m.value(a), m.value(b)
		if va > 0 && vb > 0 {
			r = append(r, va/vb)
		}
	}
	return r
}

// String is "median (min–max)", or "–" without data.
func (r ratios) String() string {
	switch len(r) {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.2f×", r[0])
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(r), slices.Min(r), slices.Max(r))
}

// indexRounds keeps the error-free samples by round; rounds lists each
// suite's round numbers.
func indexRounds(samples []Sample) (map[roundKey]Sample, map[string][]int) {
	by := map[roundKey]Sample{}
	rounds := map[string][]int{}
	for _, s := range samples {
		if s.Errors > 0 {
			continue
		}
		by[roundKey{s.Suite, s.Cell, s.Peer, s.Round}] = s
		if !slices.Contains(rounds[s.Suite], s.Round) {
			rounds[s.Suite] = append(rounds[s.Suite], s.Round)
		}
	}
	for _, r := range rounds {
		slices.Sort(r)
	}
	return by, rounds
}

// pairedTable writes one Markdown table: a row per cell, a column per
// comparison, of metric m's paired ratios.
func pairedTable(b *strings.Builder, by map[roundKey]Sample, rounds []int, suite string, cells []string, pairs []pair, m metric) {
	var used []pair
	for _, p := range pairs {
		for _, c := range cells {
			if len(pairedRatios(by, suite, c, p, m, rounds)) > 0 {
				used = append(used, p)
				break
			}
		}
	}
	if len(used) == 0 {
		return
	}
	fmt.Fprintf(b, "| cell (%s, %s is better for the first) |", m.name, m.better)
	for _, p := range used {
		fmt.Fprintf(b, " %s ÷ %s |", p.num, p.den)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(used)) + "\n")
	for _, c := range cells {
		fmt.Fprintf(b, "| %s |", c)
		for _, p := range used {
			fmt.Fprintf(b, " %s |", pairedRatios(by, suite, c, p, m, rounds))
		}
		b.WriteString("\n")
	}
}

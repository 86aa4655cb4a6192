package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
)

// The standard-stack suites (issue 14): net/http and grpc-go, unchanged,
// served over Go's net and over shardnet's net.Conn adapter
// (engine/netconn). The server code is the same over both (cmd/peer-nethttp
// and cmd/peer-grpc with -over), so the two differ only by the transport
// under the stack; in these suites the peer "net" is Go's net.Listen and
// "shardnet" is netconn.Listen on one shard. Each server is pinned to CPU 0
// with GOMAXPROCS=1, its client to CPU 1, as in the other pinned suites.
//
//   - nethttp, nethttp-rate: wrk at saturation, then c/httpload at the
//     fixed rates (as the http and http-rate suites), 256 connections.
//   - nethttp-idle: RSS per keep-alive connection, each of them having
//     served one request (cmd/idleclient -http, another process).
//   - grpc, grpc-rate: cmd/grpcload (grpc-go over net, the same client for
//     both) calling a unary echo, at saturation and at the fixed rates.

// stdPeers are the transports under a standard stack: Go's net and this
// tree's adapter, then any extra build that has the stack's server (main
// adds those).
var stdPeers = []string{"net", "shardnet"}

// stdStacks are the standard stacks, each served by cmd/peer-STACK.
var stdStacks = []string{"nethttp", "grpc"}

// stdSuites are the suites that run a standard stack.
var stdSuites = []string{"nethttp", "nethttp-rate", "nethttp-idle", "grpc", "grpc-rate"}

func isStdSuite(suite string) bool { return slices.Contains(stdSuites, suite) }

// stdBinaries are the commands these suites build.
var stdBinaries = []string{"peer-nethttp", "peer-grpc", "grpcload"}

// grpcSpec is one grpcload load.
type grpcSpec struct {
	conns, inflight, size int
}

// stdCells are the standard-stack suites' cells.
func (d *driver) stdCells() []Cell {
	var cs []Cell
	{
		spec := httpSpec{conns: 256, pipeline: 1, stack: "nethttp"}
		cs = append(cs, d.rateCellsOf("nethttp", "c256 x1", stdPeers,
			func(d *driver, s Sample) Sample { return d.runHTTP(s, spec) },
			func(d *driver, s Sample) Sample { return d.runHTTPRate(s, spec) })...)
	}
	cs = append(cs, Cell{Suite: "nethttp-idle", Name: "idle", Peers: stdPeers,
		Run: func(d *driver, p string, r int) []Sample {
			s := newSample("nethttp-idle", fmt.Sprintf("%d keep-alive", d.idleN), p, r)
			return []Sample{d.runIdle(s, idleSpec{stack: "nethttp", mode: "http", http: true})}
		}})
	{
		spec := grpcSpec{conns: 4, inflight: 16, size: 64}
		name := fmt.Sprintf("unary %s c%d x%d", sizeName(spec.size), spec.conns, spec.inflight)
		cs = append(cs, d.rateCellsOf("grpc", name, stdPeers,
			func(d *driver, s Sample) Sample { return d.runGRPC(s, spec) },
			func(d *driver, s Sample) Sample { return d.runGRPC(s, spec) })...)
	}
	return cs
}

// stdServer returns the binary and the extra arguments that serve a
// standard stack over a peer's transport: this tree's peer-STACK with
// -over net or shardnet, or an extra build's over its adapter.
func (d *driver) stdServer(stack, peer string) (string, []string) {
	if p, ok := d.stdBin[peer][stack]; ok {
		return p, []string{"-over", "shardnet"}
	}
	return filepath.Join(d.bin, "peer-"+stack), []string{"-over", peer}
}

// runGRPC runs grpcload against one peer's gRPC server: at saturation, or
// at s.Offered calls/s when it is set.
func (d *driver) runGRPC(s Sample, spec grpcSpec) Sample {
	addr := d.nextAddr()
	bin, extra := d.stdServer("grpc", s.Peer)
	srv, err := d.startServer(bin, s.Peer, "echo", addr, serverPin, 1, extra...)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer srv.stop()
	argv := []string{filepath.Join(d.bin, "grpcload"), "-addr", addr, "-c", strconv.Itoa(spec.conns),
		"-inflight", strconv.Itoa(spec.inflight), "-size", strconv.Itoa(spec.size),
		"-duration", d.duration.String(), "-json"}
	if s.Offered > 0 {
		argv = append(argv, "-rate", strconv.Itoa(int(s.Offered)))
	}
	cl := reportClient{name: "grpcload", pin: clientPin, argv: argv, mismatch: "echo mismatch", tail: true}
	return d.runReportClient(s, srv, cl, true)
}

// targets14Markdown compares the adapter with net under the standard
// stacks, by paired ratios (shardnet ÷ net within each round): net/http at
// the fixed rates, core CPU per request at most 1.15× net's and p99 no
// worse; idle keep-alive memory at most net's; gRPC reported, no target.
func targets14Markdown(samples []Sample) string {
	by, rounds := indexRounds(samples)
	_, order := aggregate(samples)
	t := newTargetTable("| target | cell | shardnet ÷ net, paired, median (min–max) | verdict |\n|---|---|---|---|\n")
	row := t.ratioRow
	p := pair{"shardnet", "net"}
	for _, c := range order["nethttp-rate"] {
		r := pairedRatios(by, "nethttp-rate", c, p, mCoreCPU, rounds["nethttp-rate"])
		row("net/http fixed rate: core CPU/req ≤ 1.15× net", c, r, verdict(median(r) <= 1.15))
		r = pairedRatios(by, "nethttp-rate", c, p, mCPU, rounds["nethttp-rate"])
		row("net/http fixed rate: server CPU/req (the process alone), for reference", c, r, "–")
		r = pairedRatios(by, "nethttp-rate", c, p, mP99, rounds["nethttp-rate"])
		row("net/http fixed rate: p99 no worse than net's", c, r, verdict(median(r) <= 1))
	}
	for _, c := range order["nethttp"] {
		row("net/http saturated: req/s (reported)", c, pairedRatios(by, "nethttp", c, p, mRate, rounds["nethttp"]), "–")
	}
	for _, c := range order["nethttp-idle"] {
		r := pairedRatios(by, "nethttp-idle", c, p, mSize, rounds["nethttp-idle"])
		row("net/http idle keep-alive: RSS/conn ≤ net's", c, r, verdict(median(r) <= 1))
	}
	for _, c := range order["grpc"] {
		row("gRPC saturated: calls/s (reported)", c, pairedRatios(by, "grpc", c, p, mRate, rounds["grpc"]), "–")
	}
	for _, c := range order["grpc-rate"] {
		row("gRPC fixed rate: core CPU/call (reported)", c, pairedRatios(by, "grpc-rate", c, p, mCoreCPU, rounds["grpc-rate"]), "–")
		row("gRPC fixed rate: p99 (reported)", c, pairedRatios(by, "grpc-rate", c, p, mP99, rounds["grpc-rate"]), "–")
	}
	return t.String()
}

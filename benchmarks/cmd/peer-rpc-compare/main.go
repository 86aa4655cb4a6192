// Command peer-rpc-compare measures shardnet's RPC example (tools/rpc,
// "shardnet rpc-server" and "shardnet rpc-bench") against grpc-go, over
// Go's net and over shardnet's net.Conn adapter (engine/netconn), with the
// same messages: a unary echo of -sizes bytes each way; and against the
// same protocol served Kitex-style (cmd/peer-rpc-netpoll) on
// engine/netpollconn and on cloudwego/netpoll, driven by the same client;
// and against the floor of the protocol on epoll, a one-thread C server
// (peer c: c/rpc.c, built with gcc), driven by the same client.
//
// Each server runs alone, pinned to CPU 0 (taskset), and its own load
// generator runs pinned to CPU 1 (each protocol needs its own client: each
// stack is driven by its own, on the same core). At saturation rpc-bench
// coalesces each connection's calls (rpc.WithCoalescing); grpc-go's client
// batches its writes its own way.
// For each size:
//
//   - saturation: -c connections × -inflight calls in flight for
//     -duration, every server once per round, -rounds rounds; calls/s as
//     the client counted verified answers;
//   - fixed rate: then the same at an offered rate that every server
//     carries: -rate-fractions of the slowest server's median saturated
//     rate in this run (or -rates), the same for every server, 4 calls in
//     flight per connection at most. Both clients send call i on
//     connection i%c, so the servers see the same arrival pattern.
//
// The server's figures are taken over the run less its first 0.5 s and
// last 0.2 s: the run time of its threads (schedstat), the part of it that
// was the Go runtime's sysmon thread, CPU 0's busy time (which adds the
// softirq and interrupt work on the server's core that no process is
// charged for), its read and write system calls and the times its threads
// were scheduled in, each per call. Ratios (shardnet ÷ peer) are paired:
// taken within each round, given as median (min–max) over the rounds.
//
// On loopback the sender's CPU runs the receiver's TCP input: the
// server's CPU pays for its client's receive path. -netns on runs each
// server and its client in two network namespaces joined by a veth pair
// instead, with RPS steering each side's receive processing to its own
// CPU, as two hosts would have it (see netPair); -netns both runs every
// peer both ways in each round (the netns runs are named PEER@netns) and
// gives the ratios within each way. The namespaces are removed at the end,
// on a fatal error, and, if the driver was killed, by its next run.
//
//	cd benchmarks && go run ./cmd/peer-rpc-compare -rounds 5 -duration 3s -out results/rpc-grpc.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// peer is one server and the client that speaks its protocol.
type peer struct {
	name   string
	server func(host string) []string // the server's argv, listening on host, port 0
	client func(addr string, size, rate int) []string
	wrap   func(server bool, argv []string) []string // runs argv in a namespace; nil on loopback
}

// netnsSuffix names a peer's runs in the two-host emulation.
const netnsSuffix = "@netns"

// config is the flags.
type config struct {
	rounds    int
	duration  time.Duration
	sizes     []int
	rates     []int     // explicit fixed rates, or none
	fractions []float64 // of the slowest server's median saturated rate
	conns     int
	inflight  int
	peers     []string
	subjects  []string // the servers divided by every other in the ratio tables
	out       string
	bin       string // prebuilt binaries, or "" to build them
	netns     string // off, on or both
}

// results holds every sample: size -> run (0: saturation, then the fixed
// rates in order) -> peer -> one sample per round.
type results map[int][]map[string][]sample

func main() {
	var cfg config
	var sizes, peers, rates, fractions, subjectList string
	flag.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds (each server once per round)")
	flag.DurationVar(&cfg.duration, "duration", 3*time.Second, "length of each run (at least 1.5s: the first 0.5 s and last 0.2 s are not measured)")
	flag.StringVar(&sizes, "sizes", "64,4096", "message sizes, bytes")
	flag.StringVar(&rates, "rates", "", "calls/s of the fixed-rate runs, the same for every size (default: -rate-fractions)")
	flag.StringVar(&fractions, "rate-fractions", "0.5", "fixed rates as fractions of the slowest server's median saturated rate of the size, in this run")
	flag.IntVar(&cfg.conns, "c", 16, "connections")
	flag.IntVar(&cfg.inflight, "inflight", 16, "calls in flight per connection at saturation")
	flag.StringVar(&peers, "peers", "shardnet,grpc,grpc-netconn,netpollconn,netpoll", "servers to run: shardnet (tools/rpc's callback server as rpc-server ships, with its default -wait; shardnet-syscall, shardnet-rt and shardnet-rtpin: the same with SHARDNET_WAIT=syscall (the engine's default blocking epoll_wait), runtime or runtime-pinned (engine.WithRuntimeWait)), grpc, grpc-netconn (grpc-go over engine/netconn), netpollconn and netpoll (the same protocol, Kitex-style codec, on engine/netpollconn or cloudwego/netpoll), c (the same protocol served by one C thread on epoll, c/rpc.c; needs gcc)")
	flag.StringVar(&subjectList, "subject", "shardnet", "servers whose ratios (÷ every other server) the tables give, comma-separated")
	flag.StringVar(&cfg.bin, "bin", "", "take shardnet, peer-rpc-grpc, peer-rpc-netpoll and peer-c from this directory instead of building them (to build before a measured window)")
	flag.StringVar(&cfg.out, "out", "", "write the markdown summary and raw outputs here (file); stdout always")
	flag.StringVar(&cfg.netns, "netns", "off", "off: server and client on loopback; on: in two network namespaces joined by a veth pair, each side's receive processing steered by RPS to its own CPU (two hosts, emulated; needs root); both: every peer both ways in each round")
	flag.Parse()
	// fatal unwinds main, so the deferred removal of the namespaces runs.
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(fatalError); ok {
				fmt.Fprintln(os.Stderr, "peer-rpc-compare:", f.err)
				os.Exit(1)
			}
			panic(r)
		}
	}()
	cfg.sizes = ints(sizes)
	if rates != "" {
		cfg.rates = ints(rates)
	} else {
		for _, f := range strings.Split(fractions, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || v <= 0 || v >= 1 {
				fatal(fmt.Errorf("-rate-fractions %q: want fractions in (0, 1)", fractions))
			}
			cfg.fractions = append(cfg.fractions, v)
		}
	}
	cfg.peers = strings.Split(peers, ",")
	cfg.subjects = strings.Split(subjectList, ",")
	if cfg.netns != "off" && cfg.netns != "on" && cfg.netns != "both" {
		fatal(fmt.Errorf("-netns %q: want off, on or both", cfg.netns))
	}
	if cfg.duration < skipStart+skipEnd+800*time.Millisecond {
		fatal(fmt.Errorf("-duration %v: want at least 1.5s", cfg.duration))
	}
	if runtime.NumCPU() < 2 {
		fatal(fmt.Errorf("needs 2 CPUs (server on 0, client on 1)"))
	}
	dir, err := os.MkdirTemp("", "peer-rpc-compare")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	all := buildPeers(dir, cfg)
	for _, name := range cfg.peers {
		if _, ok := all[name]; !ok {
			fatal(fmt.Errorf("unknown peer %q", name))
		}
	}
	if cfg.netns != "off" {
		pair, err := newNetPair(os.Getpid())
		if err != nil {
			fatal(err)
		}
		defer pair.close()
		stopOnSignal(pair)
		cfg.peers, cfg.subjects = withNetns(cfg, all, pair)
	}
	start := time.Now()
	var raw bytes.Buffer
	res := results{}
	offered := map[int][]int{} // size -> the fixed rates run
	for _, size := range cfg.sizes {
		res[size] = []map[string][]sample{runRounds(cfg, all, size, 0, &raw)}
		offered[size] = cfg.rates
		if len(cfg.rates) == 0 {
			slowest := math.Inf(1)
			for _, name := range cfg.peers {
				m, _, _ := med(res[size][0][name], func(s sample) float64 { return s.callsPerSec })
				slowest = min(slowest, m)
			}
			offered[size] = nil
			for _, f := range cfg.fractions {
				offered[size] = append(offered[size], max(100, int(math.Round(f*slowest/100))*100))
			}
		}
		for _, rate := range offered[size] {
			res[size] = append(res[size], runRounds(cfg, all, size, rate, &raw))
		}
	}
	md := summary(cfg, res, offered, start)
	fmt.Print(md)
	if cfg.out != "" {
		full := md + "\n## Raw output\n\n```\n" + raw.String() + "```\n"
		if err := os.WriteFile(cfg.out, []byte(full), 0o644); err != nil {
			fatal(err)
		}
	}
}

// runRounds runs every peer once per round at size and rate (0:
// saturation).
func runRounds(cfg config, all map[string]peer, size, rate int, raw *bytes.Buffer) map[string][]sample {
	out := map[string][]sample{}
	kind := "saturation"
	if rate > 0 {
		kind = fmt.Sprintf("@%d/s", rate)
	}
	for round := range cfg.rounds {
		for _, name := range cfg.peers {
			s, text := run(all[name], size, rate, cfg.duration)
			fmt.Fprintf(raw, "### %s %s %d B round %d\n%s\n", name, kind, size, round+1, text)
			fmt.Printf("%-13s %-10s %5d B round %d: %9.0f calls/s  server %5.2f µs/call (sysmon %5.2f)  core %5.2f µs/call  reads %.2f writes %.2f slices %.2f /call  p99 %.0f µs\n",
				name, kind, size, round+1, s.callsPerSec, s.cpuPerCall, s.sysmon, s.corePerCall, s.reads, s.writes, s.slices, s.p99)
			out[name] = append(out[name], s)
		}
	}
	return out
}

// buildPeers builds the binaries into dir and returns every peer.
func buildPeers(dir string, cfg config) map[string]peer {
	if cfg.bin != "" {
		dir = cfg.bin
	}
	shardnet := filepath.Join(dir, "shardnet")
	grpcBin := filepath.Join(dir, "peer-rpc-grpc")
	netpollBin := filepath.Join(dir, "peer-rpc-netpoll")
	cBin := filepath.Join(dir, "peer-c")
	if cfg.bin == "" {
		build(shardnet, "..", "./tools/shardnet")
		build(grpcBin, ".", "./cmd/peer-rpc-grpc")
		build(netpollBin, ".", "./cmd/peer-rpc-netpoll")
		if slices.Contains(cfg.peers, "c") {
			buildC(cBin)
		}
	}
	rpcBench := func(addr string, size, rate int) []string {
		return []string{shardnet, "rpc-bench", "-addr", addr, "-shards", "1", "-json",
			"-c", strconv.Itoa(cfg.conns), "-inflight", strconv.Itoa(inflight(cfg, rate)), "-size", strconv.Itoa(size),
			"-duration", cfg.duration.String(), "-rate", strconv.Itoa(rate)}
	}
	grpcBench := func(addr string, size, rate int) []string {
		return []string{grpcBin, "-mode", "bench", "-addr", addr,
			"-c", strconv.Itoa(cfg.conns), "-inflight", strconv.Itoa(inflight(cfg, rate)), "-size", strconv.Itoa(size),
			"-duration", cfg.duration.String(), "-rate", strconv.Itoa(rate)}
	}
	return map[string]peer{
		// rpc-server as it ships (its -wait default, the runtime wait,
		// unless SHARDNET_WAIT is set in the driver's environment).
		"shardnet": {name: "shardnet", client: rpcBench,
			server: func(host string) []string {
				return []string{shardnet, "rpc-server", "-addr", host + ":0", "-shards", "1"}
			}},
		// The same server with the engine's default wait, a blocking
		// epoll_wait (env execs it: the PID measured is the server's).
		"shardnet-syscall": {name: "shardnet-syscall", client: rpcBench,
			server: func(host string) []string {
				return []string{"env", "SHARDNET_WAIT=syscall", shardnet, "rpc-server", "-addr", host + ":0", "-shards", "1"}
			}},
		// The same server with its shard's idle wait in the runtime's
		// poller, named explicitly (rpc-server's default since rpc-15c;
		// before, the blocking wait was).
		"shardnet-rt": {name: "shardnet-rt", client: rpcBench,
			server: func(host string) []string {
				return []string{"env", "SHARDNET_WAIT=runtime", shardnet, "rpc-server", "-addr", host + ":0", "-shards", "1"}
			}},
		"shardnet-rtpin": {name: "shardnet-rtpin", client: rpcBench,
			server: func(host string) []string {
				return []string{"env", "SHARDNET_WAIT=runtime-pinned", shardnet, "rpc-server", "-addr", host + ":0", "-shards", "1"}
			}},
		// The same protocol read Kitex-style (blocking netpoll.Reader
		// codec, answers in order), on this engine and on netpoll itself;
		// driven by the same client as shardnet's callback server.
		"netpollconn": {name: "netpollconn", client: rpcBench,
			server: func(host string) []string {
				return []string{netpollBin, "-addr", host + ":0", "-transport", "netpollconn"}
			}},
		"netpoll": {name: "netpoll", client: rpcBench,
			server: func(host string) []string { return []string{netpollBin, "-addr", host + ":0", "-transport", "netpoll"} }},
		// The floor: tools/rpc's protocol served by one C thread on
		// epoll, one read and one write per wake-up of a connection.
		"c": {name: "c", client: rpcBench,
			server: func(host string) []string { return []string{cBin, "-mode", "rpc", "-addr", host + ":0"} }},
		"grpc": {name: "grpc", client: grpcBench,
			server: func(host string) []string { return []string{grpcBin, "-mode", "server", "-addr", host + ":0"} }},
		"grpc-netconn": {name: "grpc-netconn", client: grpcBench,
			server: func(host string) []string {
				return []string{grpcBin, "-mode", "server", "-addr", host + ":0", "-transport", "netconn"}
			}},
	}
}

// inflight is the per-connection depth: deep at saturation, shallow at a
// fixed rate (enough for the rate, so the pacer, not the window, sets it).
func inflight(cfg config, rate int) int {
	if rate > 0 {
		return 4
	}
	return cfg.inflight
}

func ints(list string) []int {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// buildC compiles the C peer (c/peer.c with its UDP and RPC modes).
func buildC(out string) {
	cmd := exec.Command("gcc", "-O2", "-Wall", "-o", out, "c/peer.c", "c/udp.c", "c/rpc.c")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("gcc for peer c: %v", err))
	}
}

func build(out, dir, pkg string) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("build %s: %v", pkg, err))
	}
}

// med returns the median, minimum and maximum of f over ss.
func med(ss []sample, f func(sample) float64) (m, lo, hi float64) {
	if len(ss) == 0 {
		return 0, 0, 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2], v[0], v[len(v)-1]
}

// fatalError is what fatal panics with; main recovers it.
type fatalError struct{ err error }

// fatal ends the run. Called from main's goroutine it unwinds main (which
// removes the namespaces); a goroutine's call ends the process, and the
// next run removes the namespaces it left.
func fatal(err error) {
	panic(fatalError{err})
}

// Command peer-rpc-compare measures shardnet's RPC example (tools/rpc,
// "shardnet rpc-server" and "shardnet rpc-bench") against grpc-go, over
// Go's net and over shardnet's net.Conn adapter (engine/netconn), with the
// same messages: a unary echo of -sizes bytes each way; and against the
// same protocol served Kitex-style (cmd/peer-rpc-netpoll) on
// engine/netpollconn and on cloudwego/netpoll, driven by the same client.
//
// For every size and round, each server in turn runs alone, pinned to CPU
// 0 (taskset), and its own load generator runs pinned to CPU 1 (each
// protocol needs its own client). Two runs per server:
//
//   - saturation: -c connections × -inflight calls in flight for
//     -duration; calls/s as the client counted verified answers, and the
//     server's CPU use over the run (utime+stime from /proc/PID/stat);
//   - fixed rate: -rate calls/s for -duration; the server's CPU time
//     divided by the calls answered: CPU per call.
//
// Servers run in interleaved rounds (shardnet, grpc, grpc-netconn,
// shardnet, ...) so a noisy neighbour hits all of them alike; the summary
// gives medians and min–max, and the ratios of the medians.
//
//	cd benchmarks && go run ./cmd/peer-rpc-compare -rounds 3 -duration 5s -out results/rpc-grpc.md
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type peer struct {
	name   string
	server func(bin string) []string
	client func(bin, addr string, size int, rate int) []string
}

// config is the flags.
type config struct {
	rounds   int
	duration time.Duration
	sizes    []int
	rates    []int
	conns    int
	inflight int
	peers    []string
	out      string
}

// sample is one run's figures.
type sample struct {
	callsPerSec float64
	serverCPU   float64 // share of one core over the run
	clientCPU   float64 // the same for the client (rusage)
	cpuPerCall  float64 // µs of server CPU per answered call
	p50, p99    float64 // µs
	p999        float64
	failed      bool // the client failed (errors, or no call answered)
}

func main() {
	var cfg config
	var sizes, peers string
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each run")
	flag.StringVar(&sizes, "sizes", "64,4096", "message sizes, bytes")
	var rates string
	flag.StringVar(&rates, "rates", "10000,20000", "calls/s of the fixed-rate runs (below every server's saturation)")
	flag.IntVar(&cfg.conns, "c", 16, "connections")
	flag.IntVar(&cfg.inflight, "inflight", 16, "calls in flight per connection at saturation")
	flag.StringVar(&peers, "peers", "shardnet,grpc,grpc-netconn,netpollconn,netpoll", "servers to run: shardnet (tools/rpc's callback server), grpc, grpc-netconn (grpc-go over engine/netconn), netpollconn and netpoll (the same protocol, Kitex-style codec, on engine/netpollconn or cloudwego/netpoll)")
	flag.StringVar(&cfg.out, "out", "", "write the markdown summary and raw outputs here (file); stdout always")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatal(err)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			fatal(err)
		}
		cfg.rates = append(cfg.rates, n)
	}
	cfg.peers = strings.Split(peers, ",")
	if runtime.NumCPU() < 2 {
		fatal(fmt.Errorf("needs 2 CPUs (server on 0, client on 1)"))
	}
	dir, err := os.MkdirTemp("", "peer-rpc-compare")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	shardnet := filepath.Join(dir, "shardnet")
	grpcBin := filepath.Join(dir, "peer-rpc-grpc")
	build(shardnet, "..", "./tools/shardnet")
	build(grpcBin, ".", "./cmd/peer-rpc-grpc")
	netpollBin := filepath.Join(dir, "peer-rpc-netpoll")
	build(netpollBin, ".", "./cmd/peer-rpc-netpoll")
	rpcBench := func(_, addr string, size, rate int) []string {
		return []string{shardnet, "rpc-bench", "-addr", addr, "-shards", "1", "-json",
			"-c", strconv.Itoa(cfg.conns), "-inflight", strconv.Itoa(inflight(cfg, rate)), "-size", strconv.Itoa(size),
			"-duration", cfg.duration.String(), "-rate", strconv.Itoa(rate)}
	}

	all := map[string]peer{
		"shardnet": {
			name:   "shardnet",
			server: func(string) []string { return []string{shardnet, "rpc-server", "-addr", "127.0.0.1:0", "-shards", "1"} },
			client: rpcBench,
		},
		// The same protocol read Kitex-style (blocking netpoll.Reader
		// codec, answers in order), on this engine and on netpoll itself;
		// driven by the same client as shardnet's callback server.
		"netpollconn": {
			name: "netpollconn",
			server: func(string) []string {
				return []string{netpollBin, "-addr", "127.0.0.1:0", "-transport", "netpollconn"}
			},
			client: rpcBench,
		},
		"netpoll": {
			name: "netpoll",
			server: func(string) []string {
				return []string{netpollBin, "-addr", "127.0.0.1:0", "-transport", "netpoll"}
			},
			client: rpcBench,
		},
		"grpc": {
			name:   "grpc",
			server: func(string) []string { return []string{grpcBin, "-mode", "server", "-addr", "127.0.0.1:0"} },
			client: grpcClient(grpcBin, cfg),
		},
		"grpc-netconn": {
			name: "grpc-netconn",
			server: func(string) []string {
				return []string{grpcBin, "-mode", "server", "-addr", "127.0.0.1:0", "-transport", "netconn"}
			},
			client: grpcClient(grpcBin, cfg),
		},
	}
	var raw bytes.Buffer
	results := map[int]map[int]map[string][]sample{} // rate (0: saturation) -> size -> peer -> samples
	runRates := append([]int{0}, cfg.rates...)
	for _, rate := range runRates {
		results[rate] = map[int]map[string][]sample{}
		for _, size := range cfg.sizes {
			results[rate][size] = map[string][]sample{}
		}
	}
	for _, size := range cfg.sizes {
		for round := range cfg.rounds {
			for _, name := range cfg.peers {
				p, ok := all[name]
				if !ok {
					fatal(fmt.Errorf("unknown peer %q", name))
				}
				for _, rate := range runRates {
					kind := "saturation"
					if rate > 0 {
						kind = fmt.Sprintf("@%d/s", rate)
					}
					s, out := run(p, size, rate)
					fmt.Fprintf(&raw, "### %s %s %d B round %d\n%s\n", name, kind, size, round+1, out)
					fmt.Printf("%-13s %-10s %5d B round %d: %9.0f calls/s  server CPU %4.0f%%  client CPU %4.0f%%  %6.2f µs/call  p50 %.0f µs p99 %.0f µs\n",
						name, kind, size, round+1, s.callsPerSec, 100*s.serverCPU, 100*s.clientCPU, s.cpuPerCall, s.p50, s.p99)
					results[rate][size][name] = append(results[rate][size][name], s)
				}
			}
		}
	}
	md := summary(cfg, results)
	fmt.Print(md)
	if cfg.out != "" {
		full := md + "\n## Raw output\n\n```\n" + raw.String() + "```\n"
		if err := os.WriteFile(cfg.out, []byte(full), 0o644); err != nil {
			fatal(err)
		}
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

func grpcClient(bin string, cfg config) func(string, string, int, int) []string {
	return func(_, addr string, size, rate int) []string {
		return []string{bin, "-mode", "bench", "-addr", addr,
			"-c", strconv.Itoa(cfg.conns), "-inflight", strconv.Itoa(inflight(cfg, rate)), "-size", strconv.Itoa(size),
			"-duration", cfg.duration.String(), "-rate", strconv.Itoa(rate)}
	}
}

var listenRe = regexp.MustCompile(`listening on tcp://(\S+)`)

// run starts p's server on CPU 0, runs its client on CPU 1, and returns
// the figures and the raw output.
func run(p peer, size, rate int) (sample, string) {
	srv := exec.Command("taskset", append([]string{"-c", "0"}, p.server("")...)...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		fatal(err)
	}
	stop := func() string {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-done
		}
		return srv.ProcessState.String()
	}
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("%s: %v", p.name, err))
	}
	// The server's own report (its stop line and totals) goes into the
	// raw record, read once the server has exited.
	var srvOut bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&srvOut, br); close(copied) }()
	m := listenRe.FindStringSubmatch(line)
	if m == nil {
		fatal(fmt.Errorf("%s: start-up line %q", p.name, line))
	}
	addr := m[1]
	argv := append([]string{"-c", "1"}, p.client("", addr, size, rate)...)
	before, beforeTicks := cpuNs(srv.Process.Pid), cpuTicks(srv.Process.Pid)
	t0 := time.Now()
	cl := exec.Command("taskset", argv...)
	var out, errb bytes.Buffer
	cl.Stdout, cl.Stderr = &out, &errb
	if err := cl.Run(); err != nil {
		// A failed run is kept as a zero, not dropped: the summary's
		// minimum shows it and the raw output says why.
		fmt.Fprintf(os.Stderr, "%s client: %v\n%s", p.name, err, errb.String())
		st := stop()
		<-copied
		return sample{failed: true}, strings.Join(argv, " ") + "\nFAILED: " + err.Error() + "\n" + out.String() + errb.String() +
			"server (" + st + "):\n" + line + srvOut.String()
	}
	wall := time.Since(t0)
	after, afterTicks := cpuNs(srv.Process.Pid), cpuTicks(srv.Process.Pid)
	var clientCPU float64
	if ru, ok := cl.ProcessState.SysUsage().(*syscall.Rusage); ok {
		clientCPU = (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds() / wall.Seconds()
	}
	var res struct {
		Calls       uint64  `json:"calls"`
		CallsPerSec float64 `json:"calls_per_sec"`
		Latency     *struct {
			P50  float64 `json:"p50"`
			P99  float64 `json:"p99"`
			P999 float64 `json:"p99_9"`
		} `json:"latency_us"`
		Errors uint64 `json:"errors"`
	}
	jsonErr := json.Unmarshal(out.Bytes(), &res)
	st := stop()
	<-copied
	srvReport := "server (" + st + "):\n" + line + srvOut.String()
	if jsonErr != nil {
		return sample{failed: true}, strings.Join(argv, " ") + "\nFAILED: client output: " + jsonErr.Error() + "\n" + out.String() + srvReport
	}
	if res.Errors != 0 || res.Calls == 0 {
		return sample{failed: true}, strings.Join(argv, " ") + "\nFAILED: errors or no calls\n" + out.String() + srvReport
	}
	cpu := float64(after-before) / 1e9 // seconds
	// Threads that ended during the run (a goroutine pool's) are missing
	// from the schedstat sum; the process's utime+stime keeps them, at the
	// tick's resolution. Take it when it says clearly more.
	if ticks := float64(afterTicks-beforeTicks) / clockTicks; ticks > cpu+0.02 {
		cpu = ticks
	}
	s := sample{
		clientCPU:   clientCPU,
		callsPerSec: res.CallsPerSec,
		serverCPU:   cpu / wall.Seconds(),
		cpuPerCall:  cpu * 1e6 / float64(res.Calls),
	}
	if res.Latency != nil {
		s.p50, s.p99, s.p999 = res.Latency.P50, res.Latency.P99, res.Latency.P999
	}
	return s, strings.Join(argv, " ") + "\n" + out.String() + srvReport
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTicks = 100

// cpuTicks returns the utime+stime of pid, in clock ticks: every thread the
// process ever had, exited ones included.
func cpuTicks(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return ut + st
}

// cpuNs returns the run time of pid's threads in ns, from
// /proc/PID/task/*/schedstat (exact, where utime+stime are sampled at the
// tick and undercount a server woken often for short work). A thread that
// exited during the run is not counted; the servers keep theirs.
func cpuNs(pid int) uint64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		fatal(err)
	}
	var total uint64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			total += n
		}
	}
	return total
}

func build(out, dir, pkg string) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("build %s: %v", pkg, err))
	}
}

// summary renders the medians, their spread and the ratios.
func summary(cfg config, results map[int]map[int]map[string][]sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## RPC: shardnet tools/rpc vs grpc-go (%d rounds, %v per run, %d conns; saturation: %d in flight per conn; fixed rates: 4 per conn)\n\n",
		cfg.rounds, cfg.duration, cfg.conns, cfg.inflight)
	med := func(ss []sample, f func(sample) float64) (m, lo, hi float64) {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2], v[0], v[len(v)-1]
	}
	for _, size := range cfg.sizes {
		fmt.Fprintf(&b, "### %d B request, %d B answer\n\n", size, size)
		b.WriteString("| server | run | calls/s median (min–max) | server CPU % | client CPU % | server CPU µs/call median (min–max) | p50 µs | p99 µs | p99.9 µs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range cfg.peers {
			for _, rate := range append([]int{0}, cfg.rates...) {
				ss := results[rate][size][name]
				kind := "saturation"
				if rate > 0 {
					kind = fmt.Sprintf("%d/s", rate)
				}
				c, clo, chi := med(ss, func(s sample) float64 { return s.callsPerSec })
				u, _, _ := med(ss, func(s sample) float64 { return s.serverCPU })
				cu, _, _ := med(ss, func(s sample) float64 { return s.clientCPU })
				p, plo, phi := med(ss, func(s sample) float64 { return s.cpuPerCall })
				l50, _, _ := med(ss, func(s sample) float64 { return s.p50 })
				l99, _, _ := med(ss, func(s sample) float64 { return s.p99 })
				l999, _, _ := med(ss, func(s sample) float64 { return s.p999 })
				if n := countFailed(ss); n > 0 {
					kind += fmt.Sprintf(" (%d failed runs, counted as 0)", n)
				}
				if rate > 0 && clo < 0.97*float64(rate) {
					kind += " (a run under 97 % of the offered rate: saturated)"
				}
				fmt.Fprintf(&b, "| %s | %s | %.0f (%.0f–%.0f) | %.0f | %.0f | %.2f (%.2f–%.2f) | %.0f | %.0f | %.0f |\n",
					name, kind, c, clo, chi, 100*u, 100*cu, p, plo, phi, l50, l99, l999)
			}
		}
		b.WriteString("\n")
		for _, name := range cfg.peers {
			if name == "shardnet" || len(results[0][size]["shardnet"]) == 0 {
				continue
			}
			ratio := func(rate int, f func(sample) float64) float64 {
				a, _, _ := med(results[rate][size]["shardnet"], f)
				o, _, _ := med(results[rate][size][name], f)
				return a / o
			}
			fmt.Fprintf(&b, "- shardnet ÷ %s: calls/s at saturation **%.2f×** (target ≥ 3×); server CPU per call at saturation %.2f×", name,
				ratio(0, func(s sample) float64 { return s.callsPerSec }), ratio(0, func(s sample) float64 { return s.cpuPerCall }))
			for _, rate := range cfg.rates {
				fmt.Fprintf(&b, "; server CPU per call at %d/s **%.2f×**", rate, ratio(rate, func(s sample) float64 { return s.cpuPerCall }))
			}
			b.WriteString(" (target ≤ 0.33×)\n")
		}
		b.WriteString("\n")
	}
	return b.String()
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

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "peer-rpc-compare:", err)
	os.Exit(1)
}

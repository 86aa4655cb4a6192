// Command bench is the benchmark driver: it builds the peer servers
// (../peer-net, ../peer-gnet, …), `shardnet` and the idle client, runs every configuration for
// every peer interleaved (A B C … A B C …) for -rounds rounds, and writes
// the raw output, the samples, a Markdown table, charts and the README
// section.
//
//	go run ./cmd/bench                       # the full run, into results/ and README.md
//	go run ./cmd/bench -quick -out /tmp/q    # every peer and tool answers correctly (< 3 min)
//
// The fair per-core placement: each server on CPU 0 with GOMAXPROCS=1 and
// one loop, each client on CPU 1 with GOMAXPROCS=1 (taskset). The unpinned
// suite leaves both free with all cores.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// goPeers are the engines shardnet is measured against; peers adds it.
var (
	goPeers = []string{"net", "gnet", "netpoll", "nbio"}
	peers   = append(slices.Clone(goPeers), "shardnet")
)

var haveTaskset bool

func main() {
	quick := flag.Bool("quick", false, "check that every peer and tool answers correctly: short runs, one round, no README")
	duration := flag.Duration("duration", 2*time.Second, "length of each measured run (2 s keeps the full run near 25 minutes on 2 cores)")
	rounds := flag.Int("rounds", 5, "rounds (each runs every peer once per cell)")
	suites := flag.String("suites", "echo,http,latency,idle,unpinned,proxy,kv", "suites to run")
	only := flag.String("cells", "", "run only the cells whose name contains this")
	out := flag.String("out", "results", "results directory")
	merge := flag.Bool("merge", false, "keep the samples in -out/samples.json of the suites not run now (rerun some suites)")
	readme := flag.String("readme", "README.md", "README whose engines section is rewritten (empty: none)")
	idleN := flag.Int("idle", 10000, "idle connections in the idle suite")
	flag.Parse()
	if *quick {
		*duration, *rounds = 500*time.Millisecond, 1
		*idleN = min(*idleN, 1000)
		*readme = ""
	}
	_, err := exec.LookPath("taskset")
	haveTaskset = err == nil && runtime.NumCPU() >= 2
	if !haveTaskset {
		fmt.Println("bench: taskset missing or fewer than 2 CPUs: nothing is pinned")
	}

	if _, err := os.Stat("cmd/bench/main.go"); err != nil {
		must(fmt.Errorf("run from the benchmarks directory: %w", err))
	}
	start := time.Now()
	d := &driver{out: *out, duration: *duration, port: 21000 + int(time.Now().UnixNano()%4000), quick: *quick, idleN: *idleN}
	must(os.MkdirAll(*out, 0o755))
	d.bin, err = filepath.Abs(filepath.Join("bin"))
	must(err)
	d.rawDir = filepath.Join(*out, "raw")
	if *quick {
		d.bin, err = filepath.Abs(filepath.Join(*out, "bin"))
		must(err)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*suites, ",") {
		want[strings.TrimSpace(s)] = true
	}
	var samples []Sample
	if *merge {
		var old struct {
			Samples []Sample `json:"samples"`
		}
		if b, err := os.ReadFile(filepath.Join(*out, "samples.json")); err == nil {
			must(json.Unmarshal(b, &old))
		}
		for _, s := range old.Samples {
			if !want[s.Suite] {
				samples = append(samples, s)
			}
		}
		for s := range want {
			os.RemoveAll(filepath.Join(d.rawDir, s))
		}
	} else {
		os.RemoveAll(d.rawDir)
	}
	must(build(d.bin))
	d.luaPath, err = filepath.Abs("pipeline.lua")
	must(err)
	env := describeMachine(*duration, *rounds, *idleN)

	for _, c := range cells(*quick) {
		if !want[c.Suite] || !strings.Contains(c.Name, *only) {
			continue
		}
		if c.Suite == "http" || c.Suite == "http-unpinned" {
			if _, err := exec.LookPath("wrk"); err != nil {
				fmt.Printf("%-8s %-28s skipped: wrk not installed\n", c.Suite, c.Name)
				continue
			}
		}
		ps := slices.Clone(c.Peers)
		if c.Suite == "proxy" || c.Suite == "kv" {
			ps = slices.DeleteFunc(ps, func(p string) bool {
				tool := map[string]string{"haproxy": "haproxy", "redis": "redis-server"}[p]
				if c.Suite == "proxy" {
					if _, err := exec.LookPath("iperf3"); err != nil {
						tool = "iperf3"
					}
				} else if _, err := exec.LookPath("redis-benchmark"); err != nil {
					tool = "redis-benchmark"
				}
				if tool == "" {
					return false
				}
				if _, err := exec.LookPath(tool); err != nil {
					fmt.Printf("%-8s %-28s %s skipped: %s not installed\n", c.Suite, c.Name, p, tool)
					return true
				}
				return false
			})
		}
		r := *rounds
		if c.Suite == "idle" || c.Suite == "proxy" || c.Suite == "kv" || c.Suite == "unpinned" {
			r = min(r, 3) // long or steady figures: three rounds
		}
		for round := 1; round <= r; round++ {
			for _, p := range ps {
				for _, s := range c.Run(d, p, round) {
					fmt.Println(s.line())
					samples = append(samples, s)
				}
			}
		}
		// Write what is done after every cell, so a run cut short still
		// leaves its figures.
		write(env, samples, start, *out, *readme)
	}
	write(env, samples, start, *out, *readme)
	bad := 0
	for _, s := range samples {
		if s.Errors > 0 {
			bad++
		}
	}
	fmt.Printf("bench: %d samples, %d with errors, %v; results in %s\n", len(samples), bad, time.Since(start).Round(time.Second), *out)
	if bad > 0 {
		os.Exit(1)
	}
}

// write saves the samples, the Markdown report, the charts and the README
// section for the samples so far.
func write(env *method, samples []Sample, start time.Time, out, readme string) {
	env.Elapsed = time.Since(start).Round(time.Second).String()
	b, _ := json.MarshalIndent(struct {
		Method  *method  `json:"method"`
		Samples []Sample `json:"samples"`
	}{env, samples}, "", " ")
	must(os.WriteFile(filepath.Join(out, "samples.json"), b, 0o644))
	rep := report(env, samples)
	must(os.WriteFile(filepath.Join(out, "RESULTS.md"), []byte(rep.markdown), 0o644))
	if err := charts(out, samples); err != nil {
		fmt.Println("bench: charts:", err)
	}
	if readme != "" && len(samples) > 0 {
		must(updateReadme(readme, rep.readme))
	}
}

func (s Sample) line() string {
	l := fmt.Sprintf("%-9s %-24s %-16s r%d %12.1f", s.Suite, s.Cell, s.Peer, s.Round, s.Rate)
	if s.ServerCPUPerMsgNs >= 0 {
		l += fmt.Sprintf("  srv %6.0f ns/msg %3.0f%%", s.ServerCPUPerMsgNs, s.ServerCPUPct)
	}
	if s.ClientCPUPct >= 0 {
		l += fmt.Sprintf("  cli %3.0f%%", s.ClientCPUPct)
	}
	if s.P99us >= 0 {
		l += fmt.Sprintf("  p50 %.0fus p99 %.0fus", s.P50us, s.P99us)
	}
	if s.AllocsPerMsg >= 0 {
		l += fmt.Sprintf("  allocs/msg %.3f", s.AllocsPerMsg)
	}
	if s.Errors > 0 {
		l += fmt.Sprintf("  ERRORS %d: %s", s.Errors, s.Note)
	}
	return l
}

// cells is the matrix, in the order it runs.
func cells(quick bool) []Cell {
	var cs []Cell
	for _, conns := range []int{100, 1000} {
		for _, size := range []int{64, 4096} {
			for _, pl := range []int{1, 16} {
				spec := echoSpec{conns: conns, size: size, pipeline: pl, loops: 1, clientShards: 1, server: serverPin, client: clientPin}
				cs = append(cs, Cell{Suite: "echo", Name: fmt.Sprintf("c%d %s x%d", conns, sizeName(size), pl), Peers: peers,
					Run: func(d *driver, p string, r int) []Sample {
						return []Sample{d.runEcho(newSample("echo", fmt.Sprintf("c%d %s x%d", conns, sizeName(size), pl), p, r), spec)}
					}})
			}
		}
	}
	for _, conns := range []int{50, 256} {
		for _, pl := range []int{1, 16} {
			name := fmt.Sprintf("c%d x%d", conns, pl)
			spec := httpSpec{conns: conns, pipeline: pl}
			cs = append(cs, Cell{Suite: "http", Name: name, Peers: peers,
				Run: func(d *driver, p string, r int) []Sample {
					return []Sample{d.runHTTP(newSample("http", name, p, r), spec)}
				}})
		}
	}
	{
		const rate = 20000
		name := "c50 64B x1 @20k/s"
		spec := echoSpec{conns: 50, size: 64, pipeline: 1, rate: rate, loops: 1, clientShards: 1, server: serverPin, client: clientPin}
		cs = append(cs, Cell{Suite: "latency", Name: name, Peers: peers,
			Run: func(d *driver, p string, r int) []Sample {
				return []Sample{d.runEcho(newSample("latency", name, p, r), spec)}
			}})
	}
	cs = append(cs, Cell{Suite: "idle", Name: "idle", Peers: peers,
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runIdle(newSample("idle", fmt.Sprintf("%d idle", d.idleN), p, r))}
		}})
	for _, size := range []int{64, 4096} {
		name := fmt.Sprintf("c100 %s x16 all cores", sizeName(size))
		spec := echoSpec{conns: 100, size: size, pipeline: 16, loops: runtime.NumCPU(), clientShards: runtime.NumCPU(), server: freePin, client: freePin}
		cs = append(cs, Cell{Suite: "unpinned", Name: name, Peers: peers,
			Run: func(d *driver, p string, r int) []Sample {
				return []Sample{d.runEcho(newSample("unpinned", name, p, r), spec)}
			}})
	}
	cs = append(cs, Cell{Suite: "proxy", Name: "iperf3 1 stream", Peers: proxyVariants,
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runProxy(newSample("proxy", "iperf3 1 stream", p, r))}
		}})
	for _, pl := range []int{1, 16} {
		name := fmt.Sprintf("c50 P%d", pl)
		spec := kvSpec{conns: 50, pipeline: pl}
		cs = append(cs, Cell{Suite: "kv", Name: name, Peers: kvServers,
			Run: func(d *driver, p string, r int) []Sample {
				return d.runKV(newSample("kv", name, p, r), spec)
			}})
	}
	if quick {
		// One cell per suite and kind of load is enough to see every peer
		// answer correctly.
		keep := map[string]bool{"c100 64B x16": true, "c100 4KiB x1": true, "c50 x1": true, "c256 x16": true,
			"c100 4KiB x16 all cores": true, "c50 P16": true}
		cs = slices.DeleteFunc(cs, func(c Cell) bool {
			return c.Suite == "latency" || (c.Suite == "echo" || c.Suite == "http" || c.Suite == "unpinned" || c.Suite == "kv") && !keep[c.Name]
		})
	}
	return cs
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// build compiles the peer servers, the idle client and shardnet, without
// the race detector whatever the caller runs under.
func build(bin string) error {
	must(os.MkdirAll(bin, 0o755))
	steps := [][]string{
		{".", "go", "build", "-o", filepath.Join(bin, "idleclient"), "./cmd/idleclient"},
		{"..", "go", "build", "-o", filepath.Join(bin, "shardnet"), "./tools/shardnet"},
	}
	for _, p := range peers {
		steps = append(steps, []string{".", "go", "build", "-o", filepath.Join(bin, "peer-"+p), "./cmd/peer-" + p})
	}
	for _, s := range steps {
		cmd := exec.Command(s[1], s[2:]...)
		cmd.Dir = s[0]
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(s[1:], " "), err)
		}
	}
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

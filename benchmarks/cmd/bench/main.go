// Command bench is the benchmark driver: it builds the peer servers
// (../peer-net, ../peer-gnet, …), the C server and c/httpload (gcc -O2),
// `shardnet` and the idle client, runs every configuration for every
// server interleaved (A B C … A B C …) for -rounds rounds, and writes the
// raw output, the samples, a Markdown report with paired ratios, charts
// and the README section.
//
//	go run ./cmd/bench                       # the full run, into results/ and README.md
//	go run ./cmd/bench -quick -out /tmp/q    # every server and tool answers correctly (< 3 min)
//	go run ./cmd/bench -suites echo-rate -cells '^c100 64B x16 @' -peers shardnet,c -readme '' -out /tmp/x
//	go run ./cmd/bench -extra-rev base=main~3 -peers shardnet,base ...   # this tree ÷ another build
//
// Every echo and HTTP cell also runs at fixed offered rates below every
// server's saturation (suites echo-rate, http-rate), where the server's
// CPU per message, also counted as its core's busy time from /proc/stat,
// tells the servers apart when the one-core client saturates first.
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
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goPeers are the engines shardnet is measured against. peers, proxyPeers
// and kvPeers are the servers of the echo and HTTP, the proxy and the kv
// suites in this run: set once in main (the C server when gcc is there,
// the extra shardnet builds), read everywhere after.
var (
	goPeers    = []string{"net", "gnet", "netpoll", "nbio"}
	peers      = append(slices.Clone(goPeers), "shardnet")
	proxyPeers = proxyVariants
	kvPeers    = kvServers
)

var haveTaskset bool

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	quick := flag.Bool("quick", false, "check that every peer and tool answers correctly: short runs, one round, no README")
	duration := flag.Duration("duration", 2*time.Second, "length of each measured run")
	rounds := flag.Int("rounds", 5, "rounds (each runs every peer once per cell)")
	suites := flag.String("suites", "echo,echo-rate,http,http-rate,latency,idle,unpinned,proxy,proxy-close,proxy-idle,kv,nethttp,nethttp-rate,nethttp-idle,grpc,grpc-rate,udp,udp-rate,https,https-rate,tlsconn", "suites to run (none: only build)")
	only := flag.String("cells", "", "run only the cells whose name matches this regular expression (e.g. '^c100 64B x16( @|$)')")
	peerList := flag.String("peers", "", "run only these servers, comma-separated (proxy: NAME also runs NAME-splice); empty: all")
	fractions := flag.String("rate-fractions", "0.5,0.8", "fixed-rate cells: offered rates as fractions of the slowest server's saturated rate")
	var extraPeers, extraRevs listFlag
	flag.Var(&extraPeers, "extra-peer", "NAME=PATH: also measure another shardnet build as peer NAME; PATH is a directory with peer-shardnet and/or shardnet (the CLI, for proxy and kv), or one of them (repeatable)")
	flag.Var(&extraRevs, "extra-rev", "NAME=REV: build peer-shardnet and shardnet of git revision REV (git archive, no worktree) and measure them as peer NAME (repeatable)")
	flag.StringVar(&subject, "subject", "shardnet", "the server the paired tables divide by every other (e.g. an -extra-peer name)")
	out := flag.String("out", "results", "results directory")
	merge := flag.Bool("merge", false, "keep the samples in -out/samples.json of the suites not run now (rerun some suites)")
	readme := flag.String("readme", "README.md", "README whose engines section is rewritten (empty: none)")
	idleN := flag.Int("idle", 10000, "idle connections in the idle suite")
	doBuild := flag.Bool("build", true, "build the binaries first; -build=false is another spelling of -prebuilt, kept because recorded commands use it")
	idlePairs := flag.Int("idle-pairs", 9000, "idle relayed pairs in the proxy-idle suite (each is two of the proxy's fds)")
	prebuilt := flag.Bool("prebuilt", false, "use the binaries already in bin/ (built by an earlier run or `-suites none`): no compile in a measured run")
	flag.Parse()
	if *quick {
		*duration, *rounds = 500*time.Millisecond, 1
		*idleN = min(*idleN, 1000)
		*idlePairs = min(*idlePairs, 1000)
		*readme = ""
	}
	_, err := exec.LookPath("taskset")
	haveTaskset = err == nil && runtime.NumCPU() >= 2
	if !haveTaskset {
		fmt.Println("bench: taskset missing or fewer than 2 CPUs: nothing is pinned")
	}
	cellRE, err := regexp.Compile(*only)
	must(err)
	sel := peerSelection{}
	for _, p := range strings.Split(*peerList, ",") {
		if p = strings.TrimSpace(p); p != "" {
			sel[p] = true
		}
	}
	var fracs []float64
	for _, f := range strings.Split(*fractions, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || v >= 1 {
			must(fmt.Errorf("-rate-fractions %q: want fractions between 0 and 1", *fractions))
		}
		fracs = append(fracs, v)
	}

	if _, err := os.Stat("cmd/bench/main.go"); err != nil {
		must(fmt.Errorf("run from the benchmarks directory: %w", err))
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*suites, ",") {
		want[strings.TrimSpace(s)] = true
	}
	start := time.Now()
	d := &driver{out: *out, duration: *duration, port: 21000 + int(time.Now().UnixNano()%4000), quick: *quick, idleN: *idleN, idlePairs: *idlePairs,
		fractions: fracs, peerBin: map[string]string{}, cliBin: map[string]string{}, stdBin: map[string]map[string]string{},
		slowest: map[string]float64{}}
	d.bin, err = filepath.Abs(filepath.Join("bin"))
	must(err)
	d.rawDir = filepath.Join(*out, "raw")
	if !want["none"] {
		must(os.MkdirAll(*out, 0o755))
	}
	if *quick {
		d.bin, err = filepath.Abs(filepath.Join(*out, "bin"))
		must(err)
	}
	if want["none"] {
		// Build only: touch nothing in -out (no raw records removed, no
		// report or README rewritten), so a build before a measured
		// -prebuilt run cannot wipe the results it will be compared with.
		if *prebuilt || !*doBuild {
			must(fmt.Errorf("-suites none builds the binaries; it makes no sense with -prebuilt"))
		}
		must(build(d.bin))
		_, err := buildC(d.bin)
		must(err)
		buildHTTPSLoad(d.bin)
		fmt.Printf("bench: built into %s in %v\n", d.bin, time.Since(start).Round(time.Second))
		return
	}
	if *merge {
		var old struct {
			Samples []Sample `json:"samples"`
		}
		if b, err := os.ReadFile(filepath.Join(*out, "samples.json")); err == nil {
			must(json.Unmarshal(b, &old))
		}
		for _, s := range old.Samples {
			if !want[s.Suite] {
				d.samples = append(d.samples, s)
			}
		}
		for s := range want {
			os.RemoveAll(filepath.Join(d.rawDir, s))
		}
	} else {
		os.RemoveAll(d.rawDir)
	}
	if *prebuilt || !*doBuild {
		d.haveC = fileExists(filepath.Join(d.bin, "peer-c")) && fileExists(filepath.Join(d.bin, "httpload"))
		d.haveHTTPSLoad = fileExists(filepath.Join(d.bin, "httpsload"))
	} else {
		must(build(d.bin))
		d.haveC, err = buildC(d.bin)
		must(err)
		d.haveHTTPSLoad = d.haveC && buildHTTPSLoad(d.bin)
	}
	var extras []extraBuild
	for _, v := range extraPeers {
		name, path, err := parseExtra("-extra-peer", v, names(extras))
		must(err)
		e, err := extraFromPath(name, path)
		must(err)
		extras = append(extras, e)
	}
	for _, v := range extraRevs {
		name, rev, err := parseExtra("-extra-rev", v, names(extras))
		must(err)
		e := extraBuild{name: name, rev: rev}
		fmt.Printf("bench: building %s from %s\n", name, rev)
		must(buildExtraRev(d.bin, &e))
		extras = append(extras, e)
	}
	if d.haveC {
		peers = append(peers, cPeer)
		udpPeers = append(slices.Clone(udpPeers), cPeer)
	}
	for _, e := range extras {
		if e.peer != "" {
			peers = append(peers, e.name)
			d.peerBin[e.name] = e.peer
		}
		if e.cli != "" {
			proxyPeers = append(slices.Clone(proxyPeers), e.name, e.name+"-splice")
			proxyClosePeers = append(slices.Clone(proxyClosePeers), e.name, e.name+runtimeWaitSuffix)
			proxyIdlePeers = append(slices.Clone(proxyIdlePeers), e.name)
			kvPeers = append(slices.Clone(kvPeers), e.name)
			httpsPeers = append(slices.Clone(httpsPeers), e.name) // its CLI's http -tls
			udpPeers = append(slices.Clone(udpPeers), e.name)
			d.cliBin[e.name] = e.cli
		}
		if len(e.std) > 0 {
			stdPeers = append(slices.Clone(stdPeers), e.name)
			d.stdBin[e.name] = e.std
		}
	}
	d.luaPath, err = filepath.Abs("pipeline.lua")
	must(err)
	env := describeMachine(*duration, *rounds, *idleN)
	env.Fractions = fracs
	for _, e := range extras {
		env.Extras = append(env.Extras, e.describe())
	}

	for _, c := range d.cells() {
		if !want[c.Suite] || !cellRE.MatchString(c.Name) {
			continue
		}
		if c.Suite == "http" || c.Suite == "http-rate" || c.Suite == "nethttp" || c.Suite == "nethttp-rate" || c.Suite == "https" || c.Suite == "https-rate" {
			if _, err := exec.LookPath("wrk"); err != nil {
				fmt.Printf("%-9s %-28s skipped: wrk not installed\n", c.Suite, c.Name)
				continue
			}
		}
		if (c.Suite == "http-rate" || c.Suite == "nethttp-rate") && !d.haveC {
			fmt.Printf("%-9s %-28s skipped: httpload needs gcc\n", c.Suite, c.Name)
			continue
		}
		ps := sel.filter(c.Peers)
		if isProxySuite(c.Suite) || c.Suite == "kv" {
			ps = slices.DeleteFunc(ps, func(p string) bool {
				tool := map[string]string{"haproxy": "haproxy", "haproxy-splice": "haproxy", "redis": "redis-server"}[p]
				if c.Suite == "proxy-close" {
					if _, err := exec.LookPath("wrk"); err != nil {
						tool = "wrk"
					}
				} else if c.Suite == "proxy-idle" {
					// the proxy's own binary only
				} else if c.Suite == "proxy" {
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
					fmt.Printf("%-9s %-28s %s skipped: %s not installed\n", c.Suite, c.Name, p, tool)
					return true
				}
				return false
			})
		}
		if isHTTPSSuite(c.Suite) {
			ps = d.httpsFilter(c, ps)
		}
		d.running = ps
		r := *rounds
		if c.Suite == "idle" || c.Suite == "nethttp-idle" || c.Suite == "proxy-idle" || c.Suite == "kv" || c.Suite == "unpinned" {
			r = min(r, 3) // long or steady figures: three rounds
		}
		for round := 1; round <= r; round++ {
			for _, p := range ps {
				for _, s := range c.Run(d, p, round) {
					fmt.Println(s.line())
					d.samples = append(d.samples, s)
				}
			}
		}
		// Write what is done after every cell, so a run cut short still
		// leaves its figures.
		write(env, d.samples, start, *out, *readme)
	}
	write(env, d.samples, start, *out, *readme)
	bad := 0
	for _, s := range d.samples {
		if s.Errors > 0 {
			bad++
		}
	}
	fmt.Printf("bench: %d samples, %d with errors, %v; results in %s\n", len(d.samples), bad, time.Since(start).Round(time.Second), *out)
	if bad > 0 {
		os.Exit(1)
	}
}

func names(es []extraBuild) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.name)
	}
	return n
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
	if s.Offered > 0 {
		l += fmt.Sprintf(" (of %s)", human(s.Offered))
	}
	if s.ServerCPUPerMsgNs >= 0 {
		l += fmt.Sprintf("  srv %6.0f ns/msg %3.0f%%", s.ServerCPUPerMsgNs, s.ServerCPUPct)
	}
	if s.CoreCPUPerMsgNs >= 0 {
		l += fmt.Sprintf("  core %6.0f ns/msg %3.0f%%  srv+irq %6.0f", s.CoreCPUPerMsgNs, s.CorePct, srvIRQ(s))
	}
	if s.ClientCPUPct >= 0 {
		l += fmt.Sprintf("  cli %3.0f%%", s.ClientCPUPct)
	}
	if s.ClientCorePct >= 0 {
		l += fmt.Sprintf(" core %3.0f%%", s.ClientCorePct)
	}
	if s.P99us >= 0 {
		l += fmt.Sprintf("  p50 %.0fus p99 %.0fus", s.P50us, s.P99us)
	}
	if s.AllocsPerMsg >= 0 {
		l += fmt.Sprintf("  allocs/msg %.3f", s.AllocsPerMsg)
	}
	if s.Errors > 0 {
		l += fmt.Sprintf("  ERRORS %d: %s", s.Errors, s.Note)
	} else if s.Note != "" {
		l += "  (" + s.Note + ")"
	}
	return l
}

// rateCells returns the saturated cell suite/name, run by sat, followed by
// its fixed-rate cells in suite "SUITE-rate", one per -rate-fractions, run
// by atRate with s.Offered set: the fraction of the slowest peer's median
// saturated rate (offeredRate).
func (d *driver) rateCells(suite, name string, sat, atRate func(d *driver, s Sample) Sample) []Cell {
	return d.rateCellsOf(suite, name, peers, sat, atRate)
}

// rateCellsOf is rateCells for the servers ps.
func (d *driver) rateCellsOf(suite, name string, ps []string, sat, atRate func(d *driver, s Sample) Sample) []Cell {
	satRun := func(d *driver, p string, r int) Sample { return sat(d, newSample(suite, name, p, r)) }
	cs := []Cell{{Suite: suite, Name: name, Peers: ps,
		Run: func(d *driver, p string, r int) []Sample { return []Sample{satRun(d, p, r)} }}}
	for _, f := range d.fractions {
		rc := Cell{Suite: suite + "-rate", Name: rateCellName(name, f), Peers: ps}
		rc.Run = func(d *driver, p string, r int) []Sample {
			s := newSample(rc.Suite, rc.Name, p, r)
			s.Offered = d.offeredRate(suite, name, f, d.running, func(p string) Sample { return satRun(d, p, 0) })
			if s.Offered <= 0 {
				s.Errors, s.Note = 1, "no saturated rate to start from"
				return []Sample{s}
			}
			return []Sample{atRate(d, s)}
		}
		cs = append(cs, rc)
	}
	return cs
}

// cells is the matrix, in the order it runs. Each echo and HTTP cell is
// followed by its fixed-rate cells (suites echo-rate and http-rate), whose
// rate comes from the saturated cell's figures of the same run.
func (d *driver) cells() []Cell {
	var cs []Cell
	unpinned := slices.DeleteFunc(slices.Clone(peers), func(p string) bool { return p == cPeer }) // one thread
	for _, conns := range []int{100, 1000} {
		for _, size := range []int{64, 4096} {
			for _, pl := range []int{1, 16} {
				name := fmt.Sprintf("c%d %s x%d", conns, sizeName(size), pl)
				spec := echoSpec{conns: conns, size: size, pipeline: pl, loops: 1, clientShards: 1, server: serverPin, client: clientPin}
				cs = append(cs, d.rateCells("echo", name,
					func(d *driver, s Sample) Sample { return d.runEcho(s, spec) },
					func(d *driver, s Sample) Sample {
						rs := spec
						rs.rate = int(s.Offered)
						return d.runEcho(s, rs)
					})...)
			}
		}
	}
	for _, conns := range []int{50, 256} {
		for _, pl := range []int{1, 16} {
			name := fmt.Sprintf("c%d x%d", conns, pl)
			spec := httpSpec{conns: conns, pipeline: pl}
			cs = append(cs, d.rateCells("http", name,
				func(d *driver, s Sample) Sample { return d.runHTTP(s, spec) },
				func(d *driver, s Sample) Sample { return d.runHTTPRate(s, spec) })...)
		}
	}
	{
		const rate = 20000
		name := "c50 64B x1 @20k/s"
		spec := echoSpec{conns: 50, size: 64, pipeline: 1, rate: rate, loops: 1, clientShards: 1, server: serverPin, client: clientPin}
		cs = append(cs, Cell{Suite: "latency", Name: name, Peers: peers,
			Run: func(d *driver, p string, r int) []Sample {
				s := newSample("latency", name, p, r)
				s.Offered = rate
				return []Sample{d.runEcho(s, spec)}
			}})
	}
	cs = append(cs, Cell{Suite: "idle", Name: "idle", Peers: peers,
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runIdle(newSample("idle", fmt.Sprintf("%d idle", d.idleN), p, r), idleSpec{mode: "echo"})}
		}})
	for _, size := range []int{64, 4096} {
		name := fmt.Sprintf("c100 %s x16 all cores", sizeName(size))
		spec := echoSpec{conns: 100, size: size, pipeline: 16, loops: runtime.NumCPU(), clientShards: runtime.NumCPU(), server: freePin, client: freePin}
		cs = append(cs, Cell{Suite: "unpinned", Name: name, Peers: unpinned,
			Run: func(d *driver, p string, r int) []Sample {
				return []Sample{d.runEcho(newSample("unpinned", name, p, r), spec)}
			}})
	}
	cs = append(cs, Cell{Suite: "proxy", Name: "iperf3 1 stream", Peers: suitePeers("proxy"),
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runProxy(newSample("proxy", "iperf3 1 stream", p, r))}
		}})
	closeName := fmt.Sprintf("wrk c%d Connection: close", closeConns)
	cs = append(cs, Cell{Suite: "proxy-close", Name: closeName, Peers: suitePeers("proxy-close"),
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runProxyClose(newSample("proxy-close", closeName, p, r))}
		}})
	cs = append(cs, Cell{Suite: "proxy-idle", Name: "idle pairs", Peers: suitePeers("proxy-idle"),
		Run: func(d *driver, p string, r int) []Sample {
			return []Sample{d.runProxyIdle(newSample("proxy-idle", fmt.Sprintf("%d idle pairs", d.idlePairs), p, r))}
		}})
	for _, pl := range []int{1, 16} {
		name := fmt.Sprintf("c50 P%d", pl)
		spec := kvSpec{conns: 50, pipeline: pl}
		cs = append(cs, Cell{Suite: "kv", Name: name, Peers: suitePeers("kv"),
			Run: func(d *driver, p string, r int) []Sample {
				return d.runKV(newSample("kv", name, p, r), spec)
			}})
	}
	cs = append(cs, d.stdCells()...)
	cs = append(cs, d.udpCells()...)
	cs = append(cs, d.httpsCells()...)
	if d.quick {
		// One cell per suite and kind of load is enough to see every peer
		// answer correctly; the standard stacks have one cell each.
		keep := map[string]bool{"c100 64B x16": true, "c100 4KiB x1": true, "c50 x1": true, "c256 x16": true,
			"c100 4KiB x16 all cores": true, "c50 P16": true}
		if len(d.fractions) > 0 {
			keep[rateCellName("c100 64B x16", d.fractions[0])] = true
			keep[rateCellName("c256 x16", d.fractions[0])] = true
		}
		cs = slices.DeleteFunc(cs, func(c Cell) bool {
			if c.Suite == "tlsconn" {
				return false // both handshakes, full and resumed
			}
			if isStdSuite(c.Suite) {
				base, _, _ := strings.Cut(c.Name, " @")
				return strings.HasSuffix(c.Suite, "-rate") && c.Name != rateCellName(base, d.fractions[0])
			}
			return c.Suite == "latency" || c.Suite != "idle" && !isProxySuite(c.Suite) && !keep[c.Name]
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
	for _, p := range peers { // the built-in peers: main adds C and the extras after the build
		steps = append(steps, []string{".", "go", "build", "-o", filepath.Join(bin, "peer-"+p), "./cmd/peer-" + p})
	}
	for _, c := range append(slices.Clone(stdBinaries), httpsBinaries...) {
		steps = append(steps, []string{".", "go", "build", "-o", filepath.Join(bin, c), "./cmd/" + c})
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

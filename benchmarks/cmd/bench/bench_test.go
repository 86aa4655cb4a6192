package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
)

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:21001/plaintext
  1 threads and 50 connections
  Latency Distribution
     50%  512.00us
     75%    1.20ms
     90%    2.00ms
     99%    3.50ms
  10000 requests in 2.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 2, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:  5000.50
`
	if m := wrkRate.FindStringSubmatch(out); m == nil || m[1] != "5000.50" {
		t.Errorf("rate: %v", m)
	}
	pct := wrkPct.FindAllStringSubmatch(out, -1)
	if len(pct) != 2 || pct[0][2] != "512.00" || pct[0][3] != "us" || pct[1][2] != "3.50" || pct[1][3] != "ms" {
		t.Errorf("percentiles: %v", pct)
	}
	if m := wrkSockErr.FindStringSubmatch(out); m == nil || strings.Join(m[1:], ",") != "0,1,2,3" {
		t.Errorf("socket errors: %v", m)
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m == nil || m[1] != "4" {
		t.Errorf("non-2xx: %v", m)
	}
	for _, c := range []struct {
		quick  bool
		errors int
	}{{false, 4 + 1 + 2 + 3}, {true, 4 + 1 + 2}} { // a quick run does not count wrk's timeouts
		var s Sample
		d := &driver{quick: c.quick}
		if !d.parseWrk(&s, out) || s.Rate != 5000.5 || s.P50us != 512 || s.P99us != 3500 || s.Errors != c.errors {
			t.Errorf("parseWrk, quick %v: rate %v p50 %v p99 %v errors %d (want %d)", c.quick, s.Rate, s.P50us, s.P99us, s.Errors, c.errors)
		}
	}
	var s Sample
	if (&driver{}).parseWrk(&s, "unable to connect\n") || s.Errors != 1 || !strings.Contains(s.Note, "no Requests/sec") {
		t.Errorf("parseWrk without a rate: errors %d, note %q", s.Errors, s.Note)
	}
}

func TestJSONAndCSVParts(t *testing.T) {
	for _, out := range []string{"bench: x\n{\n  \"messages\": 3\n}\n[ 1.0s] 5 msgs/s\n", "{\n  \"messages\": 3\n}\n"} {
		if got := jsonPart(out); got != "{\n  \"messages\": 3\n}" {
			t.Errorf("jsonPart(%q) = %q", out, got)
		}
	}
	if got := csvPart("\"test\",\"rps\"\nSET: 1\r\"SET\",\"5.0\"\nnoise\n"); got != "\"test\",\"rps\"\n\"SET\",\"5.0\"\n" {
		t.Errorf("csvPart = %q", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, -1},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestUpdateReadmeKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(path, []byte("# b\n\n## buffer\nkeep\n\n"+readmeBegin+"\nold\n"+readmeEnd+"\ntail\n"), 0o644)
	if err := updateReadme(path, "new\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# b\n\n## buffer\nkeep\n\n" + readmeBegin + "\nnew\n" + readmeEnd + "\ntail\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

// TestCheckHTTP runs checkHTTP against the shared HTTP code served over
// Go's net, as peer-net does.
func TestCheckHTTP(t *testing.T) {
	peer.StartDateClock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				have := 0
				for {
					n, err := c.Read(buf[have:])
					have += n
					src := peer.SliceSource{B: buf[:have]}
					s := peer.GetScratch()
					closeAfter := peer.ServeHTTP(&src, s)
					c.Write(s.Out)
					peer.PutScratch(s)
					if closeAfter || err != nil {
						return
					}
					have = copy(buf, src.Rest())
				}
			}()
		}
	}()
	if err := checkHTTP(ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

func TestWindowCoreBusy(t *testing.T) {
	t0 := time.Now()
	a := snapshot{at: t0, mallocs: -1, idles: []float64{1, 1}, irqs: []int64{5, 5}}
	b := snapshot{at: t0.Add(2 * time.Second), mallocs: -1, idles: []float64{1.5, 3}, irqs: []int64{25, 5}}
	w := between(a, b)
	if w.core(0) != 1.5 || w.core(1) != 0 || w.irq(0) != 0.2 || w.core(2) != -1 {
		t.Errorf("core busy %v, irq %v", w.coreBusy, w.coreIRQ)
	}
}

func TestPairedRatios(t *testing.T) {
	mk := func(peer string, round int, rate, core float64, errs int) Sample {
		s := newSample("echo-rate", "c1", peer, round)
		s.Rate, s.CoreCPUPerMsgNs, s.Errors = rate, core, errs
		return s
	}
	samples := []Sample{
		mk("shardnet", 1, 100, 90, 0), mk("c", 1, 100, 100, 0),
		mk("shardnet", 2, 100, 120, 0), mk("c", 2, 100, 100, 0),
		mk("shardnet", 3, 100, 50, 0), mk("c", 3, 100, 100, 1), // an error drops the round
		mk("shardnet", 4, 100, 110, 0), mk("c", 4, 100, 100, 0),
	}
	by, rounds := indexRounds(samples)
	r := pairedRatios(by, "echo-rate", "c1", pair{"shardnet", "c"}, mCoreCPU, rounds["echo-rate"])
	if len(r) != 3 || median(r) != 1.1 {
		t.Fatalf("ratios %v, want 0.9 1.2 1.1", r)
	}
	if got := r.String(); got != "1.10× (0.90–1.20)" {
		t.Errorf("String() = %q", got)
	}
}

func TestPairsOf(t *testing.T) {
	for _, tc := range []struct {
		name, suite string
		peers       []string
		want        string
	}{
		{"echo", "echo", []string{"net", "shardnet", "c", "base"}, "shardnet/net shardnet/c shardnet/base"},
		{"proxy", "proxy", []string{"direct", "shardnet", "shardnet-splice", "haproxy", "base", "base-splice"},
			"shardnet/haproxy shardnet/base shardnet-splice/haproxy shardnet-splice/base-splice"},
		{"proxy with haproxy-splice", "proxy", []string{"direct", "shardnet", "shardnet-splice", "haproxy", "haproxy-splice"},
			"shardnet/haproxy shardnet-splice/haproxy shardnet-splice/haproxy-splice"},
		{"proxy-close", "proxy-close", []string{"direct", "shardnet", "haproxy", "base"}, "shardnet/haproxy shardnet/base"},
		{"proxy-idle", "proxy-idle", []string{"shardnet", "haproxy"}, "shardnet/haproxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range pairsOf(tc.suite, tc.peers) {
				got = append(got, p.num+"/"+p.den)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("pairs %v, want %s", got, tc.want)
			}
		})
	}
}

func TestPeerSelection(t *testing.T) {
	sel := peerSelection{"shardnet": true, "base": true}
	got := sel.filter([]string{"direct", "shardnet", "shardnet-splice", "haproxy", "base", "base-splice", "c"})
	if strings.Join(got, " ") != "shardnet shardnet-splice base base-splice" {
		t.Errorf("filter = %v", got)
	}
	if got := (peerSelection{}).filter([]string{"a", "b"}); len(got) != 2 {
		t.Errorf("an empty selection keeps all, got %v", got)
	}
}

func TestParseExtra(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{
		{"base=/tmp/x", false},
		{"base", true},
		{"base=", true},
		{"Base=/x", true},
		{"shardnet=/x", true},
		{"c=/x", true},
		{"old=/x", true}, // taken below
	} {
		_, _, err := parseExtra("-extra-peer", tc.in, []string{"old"})
		if (err != nil) != tc.wantErr {
			t.Errorf("parseExtra(%q) error %v, want error %v", tc.in, err, tc.wantErr)
		}
	}
}

func TestOfferedRate(t *testing.T) {
	d := &driver{slowest: map[string]float64{}}
	for i, r := range []float64{900, 1000, 1100} {
		s := newSample("echo", "c1", "a", i+1)
		s.Rate = r
		d.samples = append(d.samples, s)
	}
	calibrated := 0
	satRun := func(p string) Sample {
		calibrated++
		s := newSample("echo", "c1", p, 0)
		s.Rate = 800
		return s
	}
	if got := d.offeredRate("echo", "c1", 0.5, []string{"a", "b"}, satRun); got != 400 {
		t.Errorf("offered %v, want half of b's calibrated 800", got)
	}
	if got := d.offeredRate("echo", "c1", 0.5, []string{"a", "b"}, satRun); got != 400 || calibrated != 1 {
		t.Errorf("second call: offered %v after %d calibrations, want 400 after 1", got, calibrated)
	}
}

func TestTargets14(t *testing.T) {
	mk := func(suite, cell, peer string, round int, rate, core, p99 float64) Sample {
		s := newSample(suite, cell, peer, round)
		s.Rate, s.CoreCPUPerMsgNs, s.P99us = rate, core, p99
		return s
	}
	samples := []Sample{
		mk("nethttp-rate", "c256 x1 @50%", "shardnet", 1, 100, 110, 900),
		mk("nethttp-rate", "c256 x1 @50%", "net", 1, 100, 100, 1000),
		mk("nethttp-rate", "c256 x1 @50%", "shardnet", 2, 100, 130, 1100),
		mk("nethttp-rate", "c256 x1 @50%", "net", 2, 100, 100, 1000),
		mk("nethttp-idle", "10000 keep-alive", "shardnet", 1, 2000, -1, -1),
		mk("nethttp-idle", "10000 keep-alive", "net", 1, 1000, -1, -1),
	}
	got := targets14Markdown(samples)
	for _, want := range []string{
		"| net/http fixed rate: core CPU/req ≤ 1.15× net | c256 x1 @50% | 1.20× (1.10–1.30) | **missed** |",
		"| net/http fixed rate: p99 no worse than net's | c256 x1 @50% | 1.00× (0.90–1.10) | met |",
		"| net/http idle keep-alive: RSS/conn ≤ net's | 10000 keep-alive | 2.00× | **missed** |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets14Markdown lacks %q in:\n%s", want, got)
		}
	}
	if targets14Markdown(nil) != "" {
		t.Error("a table without data")
	}
}

func TestStdServer(t *testing.T) {
	d := &driver{bin: "/b", stdBin: map[string]map[string]string{"before": {"nethttp": "/x/peer-nethttp"}}}
	for _, tc := range []struct {
		stack, peer, bin, over string
	}{
		{"nethttp", "net", "/b/peer-nethttp", "net"},
		{"grpc", "shardnet", "/b/peer-grpc", "shardnet"},
		{"nethttp", "before", "/x/peer-nethttp", "shardnet"},
	} {
		bin, args := d.stdServer(tc.stack, tc.peer)
		if bin != tc.bin || strings.Join(args, " ") != "-over "+tc.over {
			t.Errorf("stdServer(%s, %s) = %s %v, want %s -over %s", tc.stack, tc.peer, bin, args, tc.bin, tc.over)
		}
	}
}

func TestExtraFromPathFindsStdServers(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"peer-shardnet", "peer-nethttp", "peer-grpc"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e, err := extraFromPath("old", dir)
	if err != nil {
		t.Fatal(err)
	}
	if e.peer == "" || e.std["nethttp"] != filepath.Join(dir, "peer-nethttp") || e.std["grpc"] != filepath.Join(dir, "peer-grpc") {
		t.Errorf("extraFromPath = %+v", e)
	}
	one, err := extraFromPath("one", filepath.Join(dir, "peer-grpc"))
	if err != nil || one.peer != "" || one.std["grpc"] == "" {
		t.Errorf("one peer-grpc binary: %+v, %v", one, err)
	}
	if _, err := extraFromPath("none", t.TempDir()); err == nil {
		t.Error("an empty directory was taken as a build")
	}
}

// TestHAProxyConfigWith checks the two HAProxy configurations of the proxy
// cells: splicing off or automatic, and the connection cap on both the
// process and the listener (the listener's default would refuse idle
// pairs past it).
func TestHAProxyConfigWith(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         haproxyOpts
		want, not []string
	}{
		{"copy", haproxyOpts{maxconn: 4096}, []string{"nbthread 1", "nosplice", "mode tcp", "bind 127.0.0.1:1", "server backend 127.0.0.1:2", "    maxconn 4096\n"}, []string{"splice-auto"}},
		{"splice", haproxyOpts{splice: true, maxconn: 9100}, []string{"option splice-auto", "maxconn 9100"}, []string{"nosplice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := haproxyConfigWith("127.0.0.1:1", "127.0.0.1:2", tc.o)
			for _, w := range tc.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("config lacks %q:\n%s", w, cfg)
				}
			}
			if n := strings.Count(cfg, fmt.Sprintf("maxconn %d", tc.o.maxconn)); n != 2 {
				t.Errorf("maxconn %d appears %d times, want 2 (global and listener):\n%s", tc.o.maxconn, n, cfg)
			}
			for _, w := range tc.not {
				if strings.Contains(cfg, w) {
					t.Errorf("config has %q:\n%s", w, cfg)
				}
			}
		})
	}
}

// TestProxyPeerVariants: a proxy peer's name picks its build and its
// wait: NAME-splice and NAME-rt run NAME's CLI, NAME-rt with
// SHARDNET_WAIT=runtime and nothing else with an environment of its own;
// -peers NAME does not select NAME-rt (a run names it).
func TestProxyPeerVariants(t *testing.T) {
	d := &driver{bin: "/b", cliBin: map[string]string{"base": "/x/shardnet"}}
	for _, tc := range []struct {
		peer, cli, env string
	}{
		{"shardnet", "/b/shardnet", ""},
		{"shardnet-splice", "/b/shardnet", ""},
		{"shardnet-rt", "/b/shardnet", "SHARDNET_WAIT=runtime"},
		{"base", "/x/shardnet", ""},
		{"base-splice", "/x/shardnet", ""},
		{"base-rt", "/x/shardnet", "SHARDNET_WAIT=runtime"},
	} {
		if got := d.cliPath(tc.peer); got != tc.cli {
			t.Errorf("cliPath(%q) = %q, want %q", tc.peer, got, tc.cli)
		}
		if got := strings.Join(proxyPeerEnv(tc.peer), " "); got != tc.env {
			t.Errorf("proxyPeerEnv(%q) = %q, want %q", tc.peer, got, tc.env)
		}
	}
	got := peerSelection{"shardnet": true}.filter([]string{"direct", "shardnet", "shardnet-rt", "haproxy"})
	if strings.Join(got, " ") != "shardnet" {
		t.Errorf("-peers shardnet selects %v, want shardnet only", got)
	}
}

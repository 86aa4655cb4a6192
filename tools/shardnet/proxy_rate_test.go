//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startIperf3Server runs "iperf3 -s -1" on a free loopback port and
// returns the port once it listens. Cleanup stops it.
func startIperf3Server(t *testing.T) string {
	t.Helper()
	needTool(t, "iperf3")
	_, port := hostPort(freeAddr(t))
	srv := exec.Command("iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", port)
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	// It says "Server listening" once it listens; a probe connection
	// would use up its one test (-1). (--forceflush: its stdout is a
	// pipe, which it would buffer.)
	ready := make(chan string, 1)
	go func() {
		br := bufio.NewReader(out)
		for {
			line, err := br.ReadString('\n')
			if strings.Contains(line, "listening") || err != nil {
				ready <- line
				break
			}
		}
		io.Copy(io.Discard, br)
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, "listening") {
			t.Fatalf("iperf3 -s did not start: %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("iperf3 -s did not say it listens")
	}
	return port
}

// iperf3Report is what the tests read from iperf3 -J: the receiver's
// figures, in total and per stream.
type iperf3Report struct {
	Error string `json:"error"`
	End   struct {
		Streams []struct {
			Receiver struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"receiver"`
		} `json:"streams"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// runIperf3 runs the iperf3 client against addr for 5 s after 2 s that
// are left out (-O 2, the ramp), with args, and returns its report.
func runIperf3(t *testing.T, addr string, args ...string) iperf3Report {
	t.Helper()
	host, port := hostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	js, err := exec.CommandContext(ctx, "iperf3", append([]string{"-c", host, "-p", port, "-t", "5", "-O", "2", "-J"}, args...)...).Output()
	var rep iperf3Report
	if jerr := json.Unmarshal(js, &rep); jerr != nil {
		t.Fatalf("iperf3 -J output does not parse (%v; run: %v):\n%s", jerr, err, js)
	}
	if err != nil || rep.Error != "" {
		t.Fatalf("iperf3 through the proxy: %v %q", err, rep.Error)
	}
	return rep
}

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool { return got >= want*(1-frac) && got <= want*(1+frac) }

// TestProxyRateConnIperf3 limits each client to 10 MB/s: iperf3's
// receiver sees 10 MB/s within 10 %, upload (the client connection's read
// bucket) and download (-R: its write bucket).
func TestProxyRateConnIperf3(t *testing.T) {
	const rate = 10e6
	for _, dir := range []struct {
		name string
		args []string
	}{
		{"upload", nil},
		{"download", []string{"-R"}},
	} {
		t.Run(dir.name, func(t *testing.T) {
			port := startIperf3Server(t)
			p, _ := startProxy(t, []string{"127.0.0.1:" + port}, "-shards", "2", "-rate-conn", "10MB")
			rep := runIperf3(t, p.addr, dir.args...)
			got := rep.End.SumReceived.BitsPerSecond / 8
			t.Logf("%s through -rate-conn 10MB: %.3f MB/s received (race=%v)", dir.name, got/1e6, raceEnabled)
			if !within(got, rate, 0.10) {
				t.Fatalf("%s: %.3f MB/s, want 10 MB/s within 10 %%", dir.name, got/1e6)
			}
			p.stop(t)
		})
	}
}

// openedRe reads a shard's opened count from the proxy's exit stats.
var openedRe = regexp.MustCompile(`(?m)^shard (\d+): conns=\d+ opened=(\d+)`)

// TestProxyRateTotalIperf3 puts four iperf3 streams (-P 4) in the proxy's
// one group, -rate-total 20MB: together they get 20 MB/s within 10 %, and
// each stream within 15 % of their mean, when all land on one shard and
// when they spread over two.
func TestProxyRateTotalIperf3(t *testing.T) {
	const total = 20e6
	for _, tc := range []struct {
		name   string
		shards string
	}{
		{"one shard", "1"},
		{"spread over two shards", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := startIperf3Server(t)
			p, _ := startProxy(t, []string{"127.0.0.1:" + port}, "-shards", tc.shards, "-balancer", "rr", "-rate-total", "20MB")
			rep := runIperf3(t, p.addr, "-P", "4")
			sum := rep.End.SumReceived.BitsPerSecond / 8
			if len(rep.End.Streams) != 4 {
				t.Fatalf("iperf3 reports %d streams, want 4", len(rep.End.Streams))
			}
			var rates []float64
			for _, s := range rep.End.Streams {
				rates = append(rates, s.Receiver.BitsPerSecond/8)
			}
			mean := sum / 4
			t.Logf("%s: %.3f MB/s in all, streams %.3f %.3f %.3f %.3f MB/s (race=%v)",
				tc.name, sum/1e6, rates[0]/1e6, rates[1]/1e6, rates[2]/1e6, rates[3]/1e6, raceEnabled)
			if !within(sum, total, 0.10) {
				t.Errorf("the group moved %.3f MB/s, want 20 MB/s within 10 %%", sum/1e6)
			}
			for i, r := range rates {
				if !within(r, mean, 0.15) {
					t.Errorf("stream %d got %.3f MB/s, not within 15 %% of the mean %.3f", i, r/1e6, mean/1e6)
				}
			}
			out := p.stop(t)
			if tc.shards == "2" {
				// iperf3's control connection and the four streams, each
				// with its backend connection, alternate between the
				// shards: both must hold streams.
				for _, m := range openedRe.FindAllStringSubmatch(out, -1) {
					if n, _ := strconv.Atoi(m[2]); n < 4 {
						t.Errorf("shard %s opened %d connections: the streams did not spread\n%s", m[1], n, out)
					}
				}
			}
		})
	}
}

// TestEchoRateConn runs "shardnet echo -rate-conn 2MB" (listener-level
// limits, as every server command has them): 4 MB echoed through one
// connection, flat out, come back at 2 MB/s within 15 % (the first burst
// of 100 kB included).
func TestEchoRateConn(t *testing.T) {
	s := startServer(t, "echo", "-addr", "127.0.0.1:0", "-rate-conn", "2MB")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	const size = 4e6
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, size))
		errc <- err
	}()
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	took := time.Since(start)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	rate := size / took.Seconds()
	t.Logf("4 MB echoed in %v: %.3f MB/s (race=%v)", took.Round(time.Millisecond), rate/1e6, raceEnabled)
	if !within(rate, 2e6, 0.15) {
		t.Fatalf("%.3f MB/s through -rate-conn 2MB, want 2 MB/s within 15 %%", rate/1e6)
	}
	c.Close()
	s.stop(t)
}

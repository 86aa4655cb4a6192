//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runBenchCmd runs "shardnet bench args..." and returns its output and
// exit code.
func runBenchCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"bench"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("bench: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("bench did not finish in time:\n%s\n%s", out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

var summaryRe = regexp.MustCompile(`messages\s+(\d+) in [\d.]+s: (\d+) msgs/s, ([\d.]+) MB/s\nlatency\s+p50 ([\d.]+)µs .* max ([\d.]+)µs\nerrors\s+(\d+) \((\w+)\)`)

func TestBenchAgainstEcho(t *testing.T) {
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0")
	tests := []struct {
		name string
		args []string
		json bool
	}{
		{name: "100 conns 3s", args: []string{"-c", "100", "-duration", "3s"}},
		{name: "pipelined 4 KiB json", args: []string{"-c", "20", "-size", "4096", "-pipeline", "8", "-duration", "1s", "-json"}, json: true},
		{name: "odd size deep pipeline json", args: []string{"-c", "3", "-size", "1000", "-pipeline", "64", "-duration", "1s", "-json"}, json: true},
		// 200 slots in flight: the rate is reachable even at 50 ms
		// latency (a loaded -race run), so the schedule is what limits it.
		{name: "fixed rate json", args: []string{"-c", "50", "-pipeline", "4", "-rate", "2000", "-duration", "1s", "-json"}, json: true},
		{name: "sink json", args: []string{"-c", "4", "-mode", "sink", "-size", "16384", "-duration", "1s", "-json"}, json: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBenchCmd(t, append([]string{"-addr", echo.addr}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if !tc.json {
				m := summaryRe.FindStringSubmatch(stdout)
				if m == nil {
					t.Fatalf("no summary in:\n%s", stdout)
				}
				if rate, _ := strconv.Atoi(m[2]); rate <= 0 || m[6] != "0" || m[7] != "ok" {
					t.Fatalf("summary: %q", m[0])
				}
				if n := strings.Count(stdout, "msgs/s") - 1; n < 2 {
					t.Fatalf("%d progress lines in a 3 s run, want one a second:\n%s", n, stdout)
				}
				t.Log(m[0])
				return
			}
			var res benchResult
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
			}
			if res.MsgsPerSec <= 0 || res.Messages == 0 || res.Errors != 0 || res.Mismatch {
				t.Fatalf("result: %+v", res)
			}
			if res.Mode == "echo" && (res.LatencyUs == nil || res.LatencyUs.P50 <= 0 || res.LatencyUs.Max < res.LatencyUs.P99) {
				t.Fatalf("latencies: %+v", res.LatencyUs)
			}
			if res.Rate > 0 {
				// The schedule holds the rate (a loaded race-detector
				// run may fall short, never above).
				if res.MsgsPerSec > 1.1*float64(res.Rate) || res.MsgsPerSec < 0.5*float64(res.Rate) {
					t.Fatalf("-rate %d gave %.0f msgs/s", res.Rate, res.MsgsPerSec)
				}
			}
			t.Logf("%s: %.0f msgs/s %.1f MB/s latency %+v", tc.name, res.MsgsPerSec, res.MBPerSec, res.LatencyUs)
		})
	}
	echo.stop(t)
}

// netServer serves each connection accepted on a loopback port with
// serve, on a goroutine of its own, until the test ends; it returns the
// address.
func netServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
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
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// corruptingEcho echoes like the echo server but flips one bit of the
// byte at offset flipAt of each connection's stream.
func corruptingEcho(t *testing.T, flipAt int) string {
	t.Helper()
	return netServer(t, func(c net.Conn) {
		buf := make([]byte, 32<<10)
		seen := 0
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if i := flipAt - seen; i >= 0 && i < n {
					buf[i] ^= 0x10
				}
				seen += n
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

func TestBenchDetectsCorruption(t *testing.T) {
	addr := corruptingEcho(t, 1000)
	tests := []struct {
		name string
		args []string
	}{
		{name: "text", args: []string{"-c", "2", "-size", "64", "-pipeline", "4"}},
		{name: "json", args: []string{"-c", "2", "-size", "300", "-json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			stdout, stderr, code := runBenchCmd(t, append([]string{"-addr", addr, "-duration", "20s"}, tc.args...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
			}
			// Byte 1000 of the stream is byte 1000 % size of message
			// 1000 / size.
			if !strings.Contains(stderr, "mismatch on connection") || !strings.Contains(stderr, "got 0x") {
				t.Fatalf("stderr does not report the mismatch:\n%s", stderr)
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("a mismatch should end the run at once; took %v", time.Since(start))
			}
			if strings.Contains(tc.name, "json") {
				var res benchResult
				if err := json.Unmarshal([]byte(stdout), &res); err != nil {
					t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
				}
				if !res.Mismatch || res.Errors == 0 {
					t.Fatalf("result: %+v", res)
				}
			} else if !strings.Contains(stdout, "MISMATCH") {
				t.Fatalf("summary does not say MISMATCH:\n%s", stdout)
			}
			t.Log(strings.TrimSpace(stderr))
		})
	}
}

func TestBenchFlagsAndUnreachable(t *testing.T) {
	runDispatchCases(t, []string{"bench"}, []dispatchCase{
		{name: "bad mode", args: []string{"-mode", "x"}, wantCode: 2, wantErr: "-mode"},
		{name: "zero size", args: []string{"-size", "0"}, wantCode: 2, wantErr: "-size"},
		{name: "help", args: []string{"-help"}, wantCode: 0, wantErr: "examples:"},
		{name: "nobody listens", args: []string{"-addr", freeAddr(t), "-duration", "1s"}, wantCode: 1, wantErr: "no connection"},
	})
}

// TestBenchAllocatesNothingPerMessage runs the load generator in this
// process against the echo server and counts heap allocations per
// verified message: connecting and the per-second report allocate, the
// messages must not.
func TestBenchAllocatesNothingPerMessage(t *testing.T) {
	if raceEnabled {
		// Under -race sync.Pool drops a share of what is put back on
		// purpose, so the engine's pooled buffers are allocated again.
		t.Skip("allocation counts are meaningless under -race; run without it")
	}
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "1")
	cfg := benchConfig{addr: echo.addr, conns: 8, size: 128, pipeline: 8, duration: 1500 * time.Millisecond, mode: "echo", shards: 1, jsonOut: true, dialLimit: 5 * time.Second}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var out bytes.Buffer
	if code := bench(cfg, &out, io.Discard); code != 0 {
		t.Fatalf("bench exit %d\n%s", code, out.String())
	}
	runtime.ReadMemStats(&after)
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	allocs := after.Mallocs - before.Mallocs
	perMsg := float64(allocs) / float64(res.Messages)
	t.Logf("%d allocations for %d messages: %.4f per message", allocs, res.Messages, perMsg)
	if res.Messages < 10000 {
		t.Fatalf("only %d messages: too few to tell", res.Messages)
	}
	if perMsg > 0.01 {
		t.Fatalf("%.4f allocations per message: the hot path allocates", perMsg)
	}
	echo.stop(t)
}

// stallingEcho echoes, except that after the first answer on a connection
// it stops answering for stall, then catches up.
func stallingEcho(t *testing.T, stall time.Duration) string {
	t.Helper()
	return netServer(t, func(c net.Conn) {
		buf := make([]byte, 32<<10)
		for answered := 0; ; answered++ {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if answered == 1 {
				time.Sleep(stall)
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
}

// TestBenchRateCountsStalls: at a fixed rate, a server that stalls for
// 300 ms holds back the ~300 messages that fell due meanwhile; they are
// timed from when they were due, so the stall shows in the tail. Timed
// from their actual send, only one message in 1,500 would show it and p99
// would stay small (coordinated omission).
func TestBenchRateCountsStalls(t *testing.T) {
	addr := stallingEcho(t, 300*time.Millisecond)
	stdout, stderr, code := runBenchCmd(t, "-addr", addr, "-c", "1", "-pipeline", "1", "-rate", "1000", "-duration", "1500ms", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	if res.LatencyUs == nil || res.LatencyUs.P99 < 100e3 {
		t.Fatalf("p99 %+v µs with a 300 ms stall in a 1.5 s run at 1000 msgs/s; want >= 100 ms", res.LatencyUs)
	}
	t.Logf("latency %+v µs", res.LatencyUs)
}

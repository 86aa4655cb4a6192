//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/rpc"
)

// runRPCBenchJSON runs rpc-bench in this process with -json and decodes
// its summary.
func runRPCBenchJSON(t *testing.T, args ...string) (rpcBenchResult, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runRPCBench(append(args, "-json"), &out, &errb)
	var res rpcBenchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s\n%s", err, out.String(), errb.String())
	}
	return res, errb.String(), code
}

// TestRPCBenchAgainstServer runs the rpc-server command and drives it with
// rpc-bench: full speed on the shard, a fixed rate through the offload
// pool; every answer verified.
func TestRPCBenchAgainstServer(t *testing.T) {
	srv := startServer(t, "rpc-server", "-addr", "127.0.0.1:0", "-shards", "2", "-delay", "1ms")
	tests := []struct {
		name     string
		args     []string
		wantRate int
	}{
		{name: "echo 64 B", args: []string{"-c", "4", "-inflight", "8", "-size", "64", "-duration", "1s"}},
		{name: "echo 4 KiB", args: []string{"-c", "2", "-inflight", "16", "-size", "4096", "-duration", "1s", "-shards", "1"}},
		{name: "offload at 2000/s", args: []string{"-method", "offload", "-c", "4", "-inflight", "8", "-size", "256", "-rate", "2000", "-duration", "1500ms"}, wantRate: 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, stderr, code := runRPCBenchJSON(t, append([]string{"-addr", srv.addr}, tc.args...)...)
			if code != 0 || res.Errors != 0 {
				t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
			}
			if res.Calls < 100 || res.LatencyUs == nil || res.LatencyUs.P50 <= 0 {
				t.Fatalf("summary %+v", res)
			}
			if tc.wantRate > 0 && (res.CallsPerSec < 0.8*float64(tc.wantRate) || res.CallsPerSec > 1.1*float64(tc.wantRate)) {
				t.Fatalf("%.0f calls/s at -rate %d", res.CallsPerSec, tc.wantRate)
			}
			t.Logf("%.0f calls/s, latency %+v µs", res.CallsPerSec, *res.LatencyUs)
		})
	}
	out := srv.stop(t)
	if !strings.Contains(out, "rpc: calls=") || !strings.Contains(out, "errors=0") {
		t.Fatalf("server's exit report:\n%s", out)
	}
}

// TestRPCBenchDetectsWrongAnswers: a server that answers with one byte
// changed makes rpc-bench fail.
func TestRPCBenchDetectsWrongAnswers(t *testing.T) {
	s, err := rpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(rpcEcho, func(req, dst []byte) ([]byte, error) {
		dst = append(dst, req...)
		dst[len(dst)/2] ^= 1
		return dst, nil
	})
	if err := s.Serve([]string{"127.0.0.1:0"}, engine.WithShards(1)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	}()
	res, stderr, code := runRPCBenchJSON(t, "-addr", s.Addrs()[0].String(), "-c", "1", "-inflight", "2", "-duration", "300ms")
	if code != 1 || res.Errors == 0 || !strings.Contains(stderr, "does not match") {
		t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
	}
}

func TestRPCBenchFlags(t *testing.T) {
	runDispatchCases(t, []string{"rpc-bench"}, []dispatchCase{
		{name: "help", args: []string{"-help"}, wantCode: 0, wantErr: "calls in flight per connection"},
		{name: "tiny size", args: []string{"-size", "4"}, wantCode: 2, wantErr: "-size 4"},
		{name: "bad method", args: []string{"-method", "x"}, wantCode: 2, wantErr: "-method"},
		{name: "nobody listens", args: []string{"-addr", freeAddr(t), "-duration", "1s"}, wantCode: 1, wantErr: "no connection"},
	})
}

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/shardnet/shardnet/benchmarks/internal/grpcecho"
)

// serve runs a gRPC server on loopback with register's services and
// returns its address; cleanup stops it.
func serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.ForceServerCodec(grpcecho.Codec{}))
	register(s)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestRunAgainstEcho(t *testing.T) {
	addr := serve(t, grpcecho.Register)
	for _, tc := range []struct {
		name string
		rate int
	}{
		{"saturated", 0},
		{"fixed rate", 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config{addr: addr, conns: 2, inflight: 4, size: 64, rate: tc.rate, duration: 300 * time.Millisecond,
				callTimeout: 5 * time.Second, connectTimeout: 5 * time.Second}
			res, err := run(cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Mismatch {
				t.Fatalf("errors %d, mismatch %v: %v", res.Errors, res.Mismatch, res.ErrorMessages)
			}
			if res.Messages == 0 || res.LatencyUs == nil {
				t.Fatalf("no calls counted: %+v", res)
			}
			// An open loop makes no more calls than the schedule made due.
			if tc.rate > 0 && res.MsgsPerSec > float64(tc.rate)*1.05 {
				t.Errorf("%.0f calls/s at a fixed %d/s", res.MsgsPerSec, tc.rate)
			}
		})
	}
}

// TestRunFindsAWrongAnswer: a server whose answers differ from the
// requests is reported as a mismatch.
func TestRunFindsAWrongAnswer(t *testing.T) {
	addr := serve(t, func(s *grpc.Server) {
		s.RegisterService(&grpc.ServiceDesc{
			ServiceName: "shardnet.bench.Echo",
			HandlerType: (*any)(nil),
			Methods: []grpc.MethodDesc{{
				MethodName: "Echo",
				Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
					in := new(grpcecho.Msg)
					if err := dec(in); err != nil {
						return nil, err
					}
					if len(in.B) > 8 && in.B[0] > 0 { // the first call (connecting) goes through
						in.B[8]++
					}
					return in, nil
				},
			}},
		}, struct{}{})
	})
	cfg := config{addr: addr, conns: 1, inflight: 1, size: 16, duration: 200 * time.Millisecond,
		callTimeout: 5 * time.Second, connectTimeout: 5 * time.Second}
	res, err := run(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Mismatch || res.Errors == 0 {
		t.Fatalf("a changed answer went unnoticed: %+v", res)
	}
}

func TestValidate(t *testing.T) {
	ok := config{conns: 1, inflight: 1, size: 8, duration: time.Second, callTimeout: time.Second, connectTimeout: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*config)
		bad  bool
	}{
		{"defaults", func(*config) {}, false},
		{"no conns", func(c *config) { c.conns = 0 }, true},
		{"no callers", func(c *config) { c.inflight = 0 }, true},
		{"payload under 8", func(c *config) { c.size = 7 }, true},
		{"negative rate", func(c *config) { c.rate = -1 }, true},
		{"no duration", func(c *config) { c.duration = 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.validate(); (err != nil) != tc.bad {
				t.Errorf("validate() = %v, want error %v", err, tc.bad)
			}
		})
	}
}

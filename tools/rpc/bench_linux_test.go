package rpc

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// benchServer serves mEcho on one shard for the benchmarks.
func benchServer(b *testing.B) *Server {
	b.Helper()
	s, err := NewServer()
	if err != nil {
		b.Fatal(err)
	}
	s.Handle(mEcho, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
	if err := s.Serve([]string{"127.0.0.1:0"}, engine.WithShards(1)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// BenchmarkCall is one blocking Call at a time over loopback: the round
// trip, both ends in this process.
func BenchmarkCall(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := benchServer(b)
			cl, err := NewClient(s.Addrs()[0].String(), WithConns(1), WithClientShards(1))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close(context.Background())
			req := make([]byte, size)
			out := make([]byte, 0, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if out, err = cl.Call(context.Background(), mEcho, req, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGoInflight keeps 64 calls in flight with Go, each callback
// starting the next: the multiplexed path, batched on both ends.
func BenchmarkGoInflight(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := benchServer(b)
			cl, err := NewClient(s.Addrs()[0].String(), WithConns(2), WithClientShards(1))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close(context.Background())
			const depth = 64
			req := make([]byte, size)
			left := int64(b.N)
			var started, finished atomic.Int64
			done := make(chan error, 1)
			var cb Callback
			cb = func(_ []byte, err error) {
				if err != nil {
					done <- err
					return
				}
				if finished.Add(1) == left {
					done <- nil
					return
				}
				if started.Add(1) <= left {
					if err := cl.Go(mEcho, req, 0, cb); err != nil {
						done <- err
					}
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			first := min(depth, left)
			started.Store(first)
			for range first {
				if err := cl.Go(mEcho, req, 0, cb); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
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

// BenchmarkTimeoutLateness makes calls to a server that reads them and
// never answers, up to 64 in flight with timeouts from 1 to 16 ms, and
// reports how long after its timeout each one failed, as the caller saw
// it (mean and p99, in µs): the precision of the per-call timer, queueing
// on the shard included. Run it with a fixed count (-benchtime=2000x): the
// time per op is mostly the timeouts themselves.
func BenchmarkTimeoutLateness(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var peers sync.WaitGroup
	b.Cleanup(func() {
		ln.Close()
		peers.Wait()
	})
	peers.Add(1)
	go func() {
		defer peers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers.Add(1)
			go func() {
				defer peers.Done()
				defer c.Close()
				_, _ = io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
	cl, err := NewClient(ln.Addr().String(), WithConns(1), WithClientShards(1))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close(context.Background())
	late := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	slots := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var wrong atomic.Int64 // calls that ended other than by their timeout
	i := 0
	for b.Loop() {
		timeout := time.Duration(1+i%16) * time.Millisecond
		i++
		slots <- struct{}{}
		wg.Add(1)
		start := time.Now()
		err := cl.Go(mEcho, []byte("x"), timeout, func(_ []byte, err error) {
			d := time.Since(start) - timeout
			if !errors.Is(err, ErrTimeout) {
				wrong.Add(1)
			}
			mu.Lock()
			late = append(late, d)
			mu.Unlock()
			<-slots
			wg.Done()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		b.Fatalf("%d calls ended other than by their timeout: %+v", n, cl.Stats())
	}
	if st := cl.Stats(); st.Timeouts != uint64(len(late)) {
		b.Fatalf("%d timeouts for %d calls: %+v", st.Timeouts, len(late), st)
	}
	slices.Sort(late)
	var sum time.Duration
	for _, d := range late {
		if d < 0 {
			b.Fatalf("a call failed %v before its timeout", -d)
		}
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(late)), "late-µs-mean")
	b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "late-µs-p99")
}

// BenchmarkServerEcho measures the server alone: a plain TCP client in
// this process (net.Conn, which allocates nothing per write or read once
// warm) sends 16 pipelined echo calls at a time and reads the 16 answers,
// so allocs/op is the server's allocations per call (framing, dispatch,
// the handler, the answer's writev), plus the client's, which are none.
// One op is one call.
func BenchmarkServerEcho(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := benchServer(b)
			c, err := net.Dial("tcp", s.Addrs()[0].String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			const depth = 16
			var batch []byte
			for i := range depth {
				batch = append(AppendHeader(batch, Header{ID: uint64(i), Method: mEcho}, size), make([]byte, size)...)
			}
			got := make([]byte, len(batch))
			exchange := func() {
				if _, err := c.Write(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					b.Fatal(err)
				}
			}
			for range 100 { // warm: buffers grown, pools filled
				exchange()
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				exchange()
			}
			b.StopTimer()
			if got[14] != byte(FlagResponse) {
				b.Fatalf("last answer's flags %#x, want a response", got[14])
			}
		})
	}
}

package engine

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// stallTicker blocks its shard in OnTick for the duration stored in
// stall, once: a handler that blocks the loop.
type stallTicker struct {
	BaseHandler
	stall atomic.Int64
}

func (h *stallTicker) OnTick(int) {
	if d := h.stall.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
}

// over counts the samples in the buckets above d, which is one of the
// bounds.
func over(s LagHistogram, d time.Duration) uint64 {
	n := uint64(0)
	for i := 1; i < len(s.Counts); i++ {
		if s.Bounds[i-1] >= d {
			n += s.Counts[i]
		}
	}
	return n
}

// TestLagSamples: an idle shard's histogram fills at the sampling period,
// and a handler that blocks the shard for 300 ms shows up as a sample of
// about that size, which the scrape-time gauge (Lag) would have missed.
func TestLagSamples(t *testing.T) {
	const period = 10 * time.Millisecond
	h := &stallTicker{}
	e, _ := startEngine(t, h, WithShards(1), WithLagSampling(period), WithTick(5*time.Millisecond))
	if !waitFor(5*time.Second, func() bool { return e.Stats().Shards[0].LagSamples.Count >= 5 }) {
		t.Fatalf("%d samples after 5 s at a %v period", e.Stats().Shards[0].LagSamples.Count, period)
	}
	before := e.Stats().Shards[0].LagSamples
	if len(before.Bounds) != numLagBounds || len(before.Counts) != numLagBounds+1 {
		t.Fatalf("%d bounds and %d counts", len(before.Bounds), len(before.Counts))
	}
	const stall = 300 * time.Millisecond
	h.stall.Store(int64(stall))
	// A sample falls due during the stall and runs when it ends: at least
	// stall - period late.
	const bound = 250 * time.Millisecond
	if !waitFor(5*time.Second, func() bool { return over(e.Stats().Shards[0].LagSamples, bound) > over(before, bound) }) {
		t.Fatalf("no sample over %v after a %v stall: %+v", bound, stall, e.Stats().Shards[0].LagSamples)
	}
	after := e.Stats().Shards[0].LagSamples
	if d := after.Sum - before.Sum; d < stall-period {
		t.Errorf("the samples' sum grew by %v over a %v stall", d, stall)
	}
}

func TestLagSamplingOff(t *testing.T) {
	e, _ := startEngine(t, echoHandler{}, WithShards(1), WithLagSampling(0))
	time.Sleep(100 * time.Millisecond)
	if s := e.Stats().Shards[0].LagSamples; s.Count != 0 {
		t.Fatalf("%d samples with sampling off", s.Count)
	}
	if _, err := New(echoHandler{}, WithLagSampling(time.Microsecond)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithLagSampling(1µs): %v, want ErrInvalidOption", err)
	}
}

// TestStatsTasksRun: every Handle.Do is a task the shard runs and counts.
func TestStatsTasksRun(t *testing.T) {
	h := &partialHandler{conns: make(chan *Conn, 1)}
	e, addr := startEngine(t, h, WithShards(1), WithLagSampling(0))
	dialT(t, "tcp", addr)
	c := <-h.conns
	hd, ok := e.Conn(c.ID())
	if !ok {
		t.Fatal("connection not found")
	}
	before := e.Stats().Shards[0].TasksRun
	const n = 20
	done := make(chan struct{}, n)
	for range n {
		if err := hd.Do(func(*Conn) { done <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		<-done
	}
	// The loop adds a batch's tasks to the count when the batch ends.
	if !waitFor(5*time.Second, func() bool { return e.Stats().Shards[0].TasksRun-before >= n }) {
		t.Fatalf("TasksRun moved by %d over %d tasks", e.Stats().Shards[0].TasksRun-before, n)
	}
}

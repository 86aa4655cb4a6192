package engine

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// yieldSeen is what a task queued behind the shard's yield saw.
type yieldSeen struct {
	queued    bool // YieldToWoken had queued the yield
	ran       bool // the goroutine woken before the yield had run
	yieldDone bool // the yield had run by the time the task did
}

// yieldProbe is a handler that, for every byte that arrives, wakes a
// goroutine, calls YieldToWoken, and queues a task behind the yield that
// notes what had happened by then. With close set it closes the
// connection right after YieldToWoken.
type yieldProbe struct {
	BaseHandler
	wake  chan struct{} // the goroutine waits on it
	ran   atomic.Int64  // the goroutine counts its wake-ups
	seen  chan yieldSeen
	close atomic.Bool
}

func newYieldProbe(n int) *yieldProbe {
	return &yieldProbe{wake: make(chan struct{}, n), seen: make(chan yieldSeen, n)}
}

func (p *yieldProbe) OnTraffic(c *Conn) {
	n := c.Buffered()
	c.Discard(n)
	s := c.sh
	for range n {
		before := p.ran.Load()
		p.wake <- struct{}{}
		c.YieldToWoken()
		queued := s.yieldQueued
		if p.close.Load() {
			c.Close()
		}
		s.loop.Submit(func() {
			p.seen <- yieldSeen{queued: queued, ran: p.ran.Load() > before, yieldDone: !s.yieldQueued}
		})
	}
}

// run serves the probe and counts the goroutine's wake-ups until the test
// ends.
func (p *yieldProbe) run(t *testing.T, opts ...Option) string {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-p.wake:
				p.ran.Add(1)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	_, addr := startEngine(t, p, opts...)
	return addr
}

// send writes one byte on nc and returns what the task behind the yield
// saw.
func (p *yieldProbe) send(t *testing.T, nc net.Conn, b byte) yieldSeen {
	t.Helper()
	if _, err := nc.Write([]byte{b}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-p.seen:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("byte %d: the task behind the yield never ran", b)
	}
	return yieldSeen{}
}

// TestYieldToWokenRunsWokenGoroutines: with GOMAXPROCS=1 and one shard,
// a goroutine the shard wakes has no P until the shard lets go of its
// own; the yield does, so the goroutine has run by the time the shard's
// next task runs. Not every time: after the yield the runtime picks the
// shard's goroutine (on the global run queue) before the local one now
// and then (one schedule in 61, for fairness), so the test wants most,
// not all.
func TestYieldToWokenRunsWokenGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 64
	p := newYieldProbe(n)
	nc := dialT(t, "tcp", p.run(t, WithShards(1)))
	before := 0
	for i := range n {
		s := p.send(t, nc, byte(i))
		if !s.queued {
			t.Fatalf("byte %d: no yield queued with one shard and GOMAXPROCS=1", i)
		}
		if !s.yieldDone {
			t.Fatalf("byte %d: the task queued behind the yield ran before it", i)
		}
		if s.ran {
			before++
		}
	}
	if before < n/2 {
		t.Fatalf("the woken goroutine had run before the shard's next task %d times in %d", before, n)
	}
}

// TestYieldToWokenSurvivesClose: the yield is the shard's task, not the
// connection's, so closing the connection that asked for it loses
// nothing: it runs, and the next round queues its own.
func TestYieldToWokenSurvivesClose(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := newYieldProbe(4)
	addr := p.run(t, WithShards(1))
	p.close.Store(true)
	if s := p.send(t, dialT(t, "tcp", addr), 1); !s.queued || !s.yieldDone {
		t.Fatalf("closing the connection: %+v, want the yield queued and run", s)
	}
	p.close.Store(false)
	if s := p.send(t, dialT(t, "tcp", addr), 2); !s.queued || !s.yieldDone {
		t.Fatalf("the next round: %+v, want the yield queued and run", s)
	}
}

// TestYieldToWokenOnlyWhenShardsHoldEveryP: with a P to spare the runtime
// runs the woken goroutine itself, and YieldToWoken queues nothing.
func TestYieldToWokenOnlyWhenShardsHoldEveryP(t *testing.T) {
	for _, tc := range []struct {
		procs, shards int
		on            bool
	}{
		{1, 1, true},
		{2, 2, true},
		{2, 1, false},
		{4, 2, false},
	} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			p := newYieldProbe(1)
			nc := dialT(t, "tcp", p.run(t, WithShards(tc.shards)))
			if s := p.send(t, nc, 1); s.queued != tc.on {
				t.Errorf("GOMAXPROCS=%d, %d shards: yield queued = %v, want %v", tc.procs, tc.shards, s.queued, tc.on)
			}
			nc.Close()
		}()
	}
}

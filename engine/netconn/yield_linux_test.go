package netconn

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// probeSeen is what a task queued behind the shard's yield saw.
type probeSeen struct {
	ran       bool // the goroutine woken before the yield had run
	yieldDone bool // the shard's yield had run (its mark is cleared)
}

// yieldProbe is a handler that, for every byte that arrives, wakes a
// goroutine, tells the yielder, and queues a task behind the yield that
// notes what had happened by then.
type yieldProbe struct {
	engine.BaseHandler
	y     atomic.Pointer[yielder]
	wake  chan struct{} // the goroutine waits on it
	ran   atomic.Int64  // the goroutine counts its wake-ups
	seen  chan probeSeen
	lose  atomic.Bool    // close the connection right after Woke: its yield's task will not run
	queue chan time.Time // with lose: the yield's mark
}

func newProbe(n int) *yieldProbe {
	return &yieldProbe{wake: make(chan struct{}, n), seen: make(chan probeSeen, n), queue: make(chan time.Time, 1)}
}

func (p *yieldProbe) OnBoot(e *engine.Engine) error {
	p.y.Store(newYielder(e))
	return nil
}

func (p *yieldProbe) OnTraffic(ec *engine.Conn) {
	n := ec.Buffered()
	ec.Discard(n)
	h, _ := ec.Engine().Conn(ec.ID())
	y := p.y.Load()
	slot := &y.shards[ec.Shard()]
	if p.lose.Load() {
		y.Woke(ec, h)
		ec.Close()
		p.queue <- slot.queued
		return
	}
	for range n {
		before := p.ran.Load()
		p.wake <- struct{}{}
		y.Woke(ec, h)
		h.Do(func(*engine.Conn) { p.seen <- probeSeen{ran: p.ran.Load() > before, yieldDone: slot.queued.IsZero()} })
	}
}

// serveProbe serves p on one shard and returns its address.
func serveProbe(t *testing.T, p *yieldProbe) string {
	t.Helper()
	e, err := engine.Serve(p, []string{"tcp://127.0.0.1:0"}, engine.WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return e.Addrs()[0].String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send writes one byte and returns what the task behind the yield saw.
func (p *yieldProbe) send(t *testing.T, c net.Conn, b byte) probeSeen {
	t.Helper()
	if _, err := c.Write([]byte{b}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-p.seen:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("byte %d: the task behind the yield never ran", b)
	}
	return probeSeen{}
}

// TestYielderRunsWokenGoroutines: with GOMAXPROCS=1 and one shard, a
// goroutine the shard wakes has no P until the shard lets go of its own;
// the yielder's task does, so the goroutine has run by the time the
// shard's next task runs. Not every time: after the yield the runtime
// picks the shard's goroutine (on the global run queue) before the local
// one now and then (one schedule in 61, for fairness), so the test wants
// most, not all.
func TestYielderRunsWokenGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 64
	p := newProbe(n)
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
	defer func() { close(stop); <-done }()
	c := dial(t, serveProbe(t, p))
	if !p.y.Load().on {
		t.Fatal("the yielder is off with one shard and GOMAXPROCS=1")
	}
	before := 0
	for i := range n {
		s := p.send(t, c, byte(i))
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

// TestYielderLostYield: a yield whose connection closes before its task
// runs is lost; once yieldLost has passed, the shard queues another.
func TestYielderLostYield(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := newProbe(4)
	addr := serveProbe(t, p)
	p.lose.Store(true)
	if _, err := dial(t, addr).Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if mark := <-p.queue; mark.IsZero() {
		t.Fatal("Woke queued no yield")
	}
	time.Sleep(2 * yieldLost)
	p.lose.Store(false)
	if s := p.send(t, dial(t, addr), 2); !s.yieldDone {
		t.Fatal("no yield ran after the lost one")
	}
}

func TestYielderOnOnlyWhenShardsHoldEveryP(t *testing.T) {
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
			e, err := engine.New(engine.BaseHandler{}, engine.WithShards(tc.shards))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			if got := newYielder(e).on; got != tc.on {
				t.Errorf("GOMAXPROCS=%d, %d shards: on = %v, want %v", tc.procs, tc.shards, got, tc.on)
			}
		}()
	}
	var y *yielder
	y.Woke(nil, engine.Handle{}) // a nil yielder does nothing
}

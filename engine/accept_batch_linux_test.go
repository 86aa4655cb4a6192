package engine

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingEcho echoes and counts the connections it opened.
type countingEcho struct {
	echoHandler
	opened atomic.Int64
}

func (h *countingEcho) OnOpen(*Conn) error { h.opened.Add(1); return nil }

// TestAcceptBatchLeavesNoneWaiting: whatever size the acceptor's batch has
// come to, every connection in the backlog is accepted, with no new
// connection needed to wake the listener again. A trickle (one connection
// per wake-up, each echoed before the next dials) brings the batch down to
// one or two calls; then a burst waits in the backlog all at once (the
// acceptors' loops held busy while it dials), larger than the batch and
// than acceptBatchMax, and must be taken whole, growing the batch on the
// way; then a second trickle. For an acceptor on the shard, the acceptor
// loop handing connections to two shards, and two reuse-port acceptors.
func TestAcceptBatchLeavesNoneWaiting(t *testing.T) {
	const trickle, burst = 20, 600
	for _, tc := range []struct {
		name      string
		shards    int
		reusePort bool
	}{
		{"one shard", 1, false},
		{"acceptor loop", 2, false},
		{"reuse-port", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &countingEcho{}
			e, addr := startEngine(t, h, WithShards(tc.shards), WithReusePort(tc.reusePort))
			e.mu.Lock()
			l := e.listeners[0]
			e.mu.Unlock()
			// sizes reads every acceptor's batch size on its own loop.
			sizes := func() []int {
				var out []int
				for _, a := range l.acceptors {
					got := make(chan int, 1)
					if err := a.loop.Submit(func() { got <- a.batch.size() }); err != nil {
						t.Fatalf("Submit: %v", err)
					}
					out = append(out, <-got)
				}
				return out
			}
			echoOne := func(i int) {
				nc := dialT(t, "tcp", addr)
				msg := []byte("one at a time")
				if got, err := roundTrip(nc, msg, 10*time.Second); err != nil || string(got) != string(msg) {
					t.Fatalf("trickle connection %d: %q, %v", i, got, err)
				}
			}
			for i := 0; i < trickle; i++ {
				echoOne(i)
			}
			for _, n := range sizes() {
				if n > 2 {
					t.Fatalf("after a trickle of one connection per wake-up the batch is %d calls, want 1 or 2", n)
				}
			}

			// Hold the acceptors' loops so the burst waits in the backlog
			// as one; the kernel completes the handshakes meanwhile.
			release := make(chan struct{})
			// A failing check below must not leave the loops held: Stop
			// would wait for them.
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce)
			var held sync.WaitGroup
			for _, a := range l.acceptors {
				held.Add(1)
				if err := a.loop.Submit(func() { held.Done(); <-release }); err != nil {
					t.Fatalf("Submit: %v", err)
				}
			}
			held.Wait()
			before := h.opened.Load()
			conns := make([]net.Conn, burst)
			var dials sync.WaitGroup
			errs := make(chan error, burst)
			for w := 0; w < 10; w++ {
				dials.Add(1)
				go func() {
					defer dials.Done()
					for i := w; i < burst; i += 10 {
						nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
						if err != nil {
							errs <- err
							return
						}
						conns[i] = nc
					}
				}()
			}
			dials.Wait()
			t.Cleanup(func() {
				for _, nc := range conns {
					if nc != nil {
						nc.Close()
					}
				}
			})
			close(errs)
			for err := range errs {
				t.Fatalf("burst dial: %v", err)
			}
			if got := h.opened.Load(); got != before {
				t.Fatalf("%d connections opened while the loops were held", got-before)
			}
			releaseOnce()
			if !waitFor(20*time.Second, func() bool { return h.opened.Load() == before+burst }) {
				t.Fatalf("%d of a burst of %d accepted after 20 s", h.opened.Load()-before, burst)
			}
			grown := false
			for _, n := range sizes() {
				grown = grown || n > 2
			}
			if !grown {
				t.Errorf("batch sizes %v after a burst of %d: none grew", sizes(), burst)
			}
			for i, nc := range conns {
				msg := []byte("burst")
				if got, err := roundTrip(nc, msg, 10*time.Second); err != nil || string(got) != string(msg) {
					t.Fatalf("burst connection %d: %q, %v", i, got, err)
				}
			}
			for i := 0; i < trickle; i++ {
				echoOne(trickle + i)
			}
			if got, want := h.opened.Load(), int64(2*trickle+burst); got != want {
				t.Fatalf("opened %d connections, want %d", got, want)
			}
		})
	}
}

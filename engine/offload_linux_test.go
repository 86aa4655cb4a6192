package engine

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
)

// offloadHandler answers each request from the worker pool: the work
// blocks (as a database call would), then the answer goes back with
// AsyncWrite.
type offloadHandler struct {
	BaseHandler
	onLoop atomic.Int64 // work that ran on a shard thread: must stay 0
}

func (h *offloadHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	req := append([]byte(nil), b...) // b is only valid during the callback
	e := c.Engine()
	if err := e.Offload(func() {
		if e.onLoop() {
			h.onLoop.Add(1)
		}
		time.Sleep(20 * time.Millisecond) // blocking work
		c.AsyncWrite(req, nil)
	}); err != nil {
		c.Abort()
	}
}

// TestOffload: blocking work runs off the shards, its answer arrives, and
// the shard serves other connections meanwhile.
func TestOffload(t *testing.T) {
	h := &offloadHandler{}
	_, addr := startEngine(t, h, WithShards(1))
	a := dialT(t, "tcp", addr)
	b := dialT(t, "tcp", addr)
	done := make(chan error, 1)
	go func() {
		_, err := roundTrip(a, []byte("slow"), 5*time.Second)
		done <- err
	}()
	if !echoCheck(t, b, 1) {
		t.FailNow()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := h.onLoop.Load(); n != 0 {
		t.Fatalf("%d offloaded functions ran on a shard thread", n)
	}
}

// TestOffloadFull: the pool's queue is bounded; past it Offload fails fast.
func TestOffloadFull(t *testing.T) {
	e, err := New(BaseHandler{}, WithShards(1), WithOffloadPool(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(stopCtx(t, 5*time.Second)) })
	release := make(chan struct{})
	started := make(chan struct{})
	if err := e.Offload(func() { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started // the one worker is busy
	if err := e.Offload(func() {}); err != nil {
		t.Fatalf("queueing one: %v", err)
	}
	if err := e.Offload(func() {}); !errors.Is(err, ErrOffloadFull) {
		t.Fatalf("past the queue: %v, want ErrOffloadFull", err)
	}
	close(release)
}

// sleepyHandler blocks its shard (what handlers must not do) on "block".
type sleepyHandler struct{ echoHandler }

func (sleepyHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) == "block" {
		time.Sleep(500 * time.Millisecond)
	}
	c.Write(b)
}

// TestLoopLag: a handler that blocks its shard shows up in the shard's lag
// figure while it blocks.
func TestLoopLag(t *testing.T) {
	e, addr := startEngine(t, sleepyHandler{}, WithShards(1))
	nc := dialT(t, "tcp", addr)
	if lag := e.Stats().Shards[0].Lag; lag > 100*time.Millisecond {
		t.Fatalf("lag %v on an idle shard", lag)
	}
	nc.Write([]byte("block"))
	var worst time.Duration
	waitFor(2*time.Second, func() bool {
		worst = max(worst, e.Stats().Shards[0].Lag)
		return worst >= 200*time.Millisecond
	})
	if worst < 200*time.Millisecond {
		t.Fatalf("lag at most %v while a handler blocked the shard for 500 ms", worst)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadFull(nc, make([]byte, 5))
}

// bootFail refuses to boot.
type bootFail struct{ BaseHandler }

var errNoBoot = errors.New("no boot")

func (bootFail) OnBoot(*Engine) error { return errNoBoot }

// TestBootError: New returns OnBoot's error and leaves nothing running.
func TestBootError(t *testing.T) {
	base := fdcheck.Baseline(t)
	if _, err := New(bootFail{}, WithShards(2)); !errors.Is(err, errNoBoot) {
		t.Fatalf("New: %v, want OnBoot's error", err)
	}
	fdcheck.Check(t, base)
}

package engine

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// timerUser makes its timers from shard 0's first OnTick and records, for
// each run, whether it ran on shard 0's thread.
type timerUser struct {
	BaseHandler
	e       *Engine
	once    sync.Once
	mu      sync.Mutex
	fired   []string // "after", "every", "stopped"
	offLoop int      // runs that were not on shard 0's thread
	errs    []error
	done    chan struct{}
}

func (h *timerUser) OnBoot(e *Engine) error { h.e = e; return nil }

func (h *timerUser) record(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fired = append(h.fired, what)
	if !h.e.onShard(0) {
		h.offLoop++
	}
}

func (h *timerUser) OnTick(shard int) {
	if shard != 0 {
		return
	}
	h.once.Do(func() {
		_, err := h.e.AfterFunc(0, 5*time.Millisecond, func() { h.record("after") })
		h.errs = append(h.errs, err)
		stopped, err := h.e.AfterFunc(0, 20*time.Millisecond, func() { h.record("stopped") })
		h.errs = append(h.errs, err)
		if stopped != nil && !stopped.Stop() {
			h.errs = append(h.errs, errors.New("Stop of a scheduled timer said it was not scheduled"))
		}
		// The other shard's heap is not this thread's to touch.
		if _, err := h.e.AfterFunc(1, time.Millisecond, func() {}); !errors.Is(err, ErrNotOnShard) {
			h.errs = append(h.errs, errors.New("AfterFunc for shard 1 from shard 0 did not fail with ErrNotOnShard"))
		}
		runs := 0
		var every *Timer
		every, err = h.e.Every(0, 2*time.Millisecond, func() {
			h.record("every")
			if runs++; runs == 3 {
				every.Stop()
				// After the stopped timer's time, so a Stop that did not
				// hold would show.
				h.e.AfterFunc(0, 40*time.Millisecond, func() { close(h.done) })
			}
		})
		h.errs = append(h.errs, err)
	})
}

// TestTimers: AfterFunc and Every run on the shard's own thread, Stop
// cancels, a periodic timer stops when told, and a timer can only be made
// on its shard's thread.
func TestTimers(t *testing.T) {
	h := &timerUser{done: make(chan struct{})}
	e, err := New(h, WithShards(2), WithTick(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop(stopCtx(t, 5*time.Second))
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the timers did not run")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, err := range h.errs {
		if err != nil {
			t.Error(err)
		}
	}
	counts := map[string]int{}
	for _, f := range h.fired {
		counts[f]++
	}
	if counts["after"] != 1 || counts["every"] != 3 || counts["stopped"] != 0 {
		t.Errorf("runs %v, want after 1, every 3, stopped 0", counts)
	}
	if h.offLoop != 0 {
		t.Errorf("%d runs were not on shard 0's thread", h.offLoop)
	}
}

// TestTimerArguments: off the shard's thread, on a shard that does not
// exist, with no func or no period, making a timer fails with a sentinel.
func TestTimerArguments(t *testing.T) {
	e, err := New(BaseHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop(stopCtx(t, 5*time.Second))
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"off the shard", func() error { _, err := e.AfterFunc(0, time.Millisecond, func() {}); return err }(), ErrNotOnShard},
		{"no such shard", func() error { _, err := e.AfterFunc(1, time.Millisecond, func() {}); return err }(), ErrInvalidOption},
		{"negative shard", func() error { _, err := e.Every(-1, time.Millisecond, func() {}); return err }(), ErrInvalidOption},
		{"nil func", func() error { _, err := e.AfterFunc(0, time.Millisecond, nil); return err }(), ErrInvalidOption},
		{"zero period", func() error { _, err := e.Every(0, 0, func() {}); return err }(), ErrInvalidOption},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want an error wrapping %v", tc.name, tc.err, tc.want)
		}
	}
}

// frameLiar aborts a connection that sends "lie" with a reason of its own.
type frameLiar struct {
	BaseHandler
	reasons chan error
}

var errLyingFrame = errors.New("frame lies about its length")

func (h *frameLiar) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	c.AbortWith(errLyingFrame)
}

func (h *frameLiar) OnClose(_ *Conn, reason error) { h.reasons <- reason }

// TestAbortWith: the handler's reason and ErrAborted are both in OnClose's
// reason, and the peer sees a reset, as with Abort.
func TestAbortWith(t *testing.T) {
	h := &frameLiar{reasons: make(chan error, 1)}
	_, addr := startEngine(t, h)
	nc := dialT(t, "tcp", addr)
	defer nc.Close()
	if _, err := nc.Write([]byte("lie")); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-h.reasons:
		if !errors.Is(reason, ErrAborted) || !errors.Is(reason, errLyingFrame) {
			t.Fatalf("reason %v, want one wrapping ErrAborted and the handler's error", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("the peer read %v, want a reset", err)
	}
}

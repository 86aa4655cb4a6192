package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// timerEcho echoes and, for every message, arms a timer on the
// connection's shard from OnTraffic: that must be allowed (the callback is
// on the shard) whichever thread the shard resumed on.
type timerEcho struct {
	BaseHandler
	e        *Engine
	fired    atomic.Int64
	armFails atomic.Int64
}

func (h *timerEcho) OnBoot(e *Engine) error { h.e = e; return nil }

func (h *timerEcho) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	_, _ = c.Write(b)
	if _, err := h.e.AfterFunc(c.Shard(), time.Millisecond, func() { h.fired.Add(1) }); err != nil {
		h.armFails.Add(1)
	}
}

// TestRuntimeWaitEngine: an engine whose shard parks in the runtime's
// poller between messages echoes every byte, runs the timers its callbacks
// arm, still refuses a timer from off the shard while the shard is parked,
// and stops with no goroutine or fd left (startEngine's cleanup checks).
func TestRuntimeWaitEngine(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{name: "unpinned", opts: []Option{WithShards(1), WithRuntimeWait(true)}},
		{name: "pinned", opts: []Option{WithShards(1), WithRuntimeWait(true), WithPinning(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &timerEcho{}
			e, addr := startEngine(t, h, tc.opts...)
			const conns, msgs = 4, 50
			ncs := make([]io.ReadWriter, conns)
			for i := range ncs {
				nc := dialT(t, "tcp", addr)
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				ncs[i] = nc
			}
			buf := make([]byte, 64)
			for m := range msgs {
				for i, nc := range ncs {
					want := []byte(fmt.Sprintf("conn %d message %d", i, m))
					if _, err := nc.Write(want); err != nil {
						t.Fatal(err)
					}
					got := buf[:len(want)]
					if _, err := io.ReadFull(nc, got); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("echo %q, want %q", got, want)
					}
				}
				if m%10 == 0 {
					time.Sleep(3 * time.Millisecond) // let the shard park, with and without timers due
					if _, err := e.AfterFunc(0, time.Millisecond, func() {}); !errors.Is(err, ErrNotOnShard) {
						t.Fatalf("AfterFunc off the shard: %v, want ErrNotOnShard", err)
					}
				}
			}
			if n := h.armFails.Load(); n != 0 {
				t.Fatalf("%d timers refused to callbacks on the shard", n)
			}
			if !waitFor(5*time.Second, func() bool { return h.fired.Load() == conns*msgs }) {
				t.Fatalf("%d of %d timers fired", h.fired.Load(), conns*msgs)
			}
		})
	}
}

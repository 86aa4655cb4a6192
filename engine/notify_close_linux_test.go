package engine

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// notifyThenClose asks NotifyWritable and then closes gracefully, with or
// without output queued. OnDrained must not run on the closing connection,
// and the EPOLLOUT interest NotifyWritable armed must not keep the shard
// spinning while the close lingers for the peer's EOF.
type notifyThenClose struct {
	BaseHandler
	queued  bool
	drained atomic.Int32
	closed  chan error
}

func (h *notifyThenClose) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	if h.queued {
		c.Write(bytes.Repeat([]byte{'q'}, 2<<20))
	}
	c.NotifyWritable()
	c.Close()
}

func (h *notifyThenClose) OnDrained(*Conn)            { h.drained.Add(1) }
func (h *notifyThenClose) OnClose(_ *Conn, err error) { h.closed <- err }

func TestNotifyWritableThenClose(t *testing.T) {
	for _, tc := range []struct {
		name         string
		queued, edge bool
	}{{"empty level", false, false}, {"empty edge", false, true}, {"queued level", true, false}, {"queued edge", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := &notifyThenClose{queued: tc.queued, closed: make(chan error, 1)}
			e, addr := startEngine(t, h, WithShards(1), WithEdgeTriggered(tc.edge), WithLingerTimeout(5*time.Second))
			nc := dialT(t, "tcp", addr)
			nc.Write([]byte("go"))
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatal(err)
			}
			// The server lingers for our EOF now: it must sleep meanwhile.
			time.Sleep(50 * time.Millisecond)
			before := e.Stats().Shards[0].Iterations
			time.Sleep(300 * time.Millisecond)
			if spun := e.Stats().Shards[0].Iterations - before; spun > 50 {
				t.Errorf("%d loop rounds in 300ms while the close lingered: EPOLLOUT left armed", spun)
			}
			nc.Close()
			select {
			case <-h.closed:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnClose")
			}
			if n := h.drained.Load(); n != 0 {
				t.Errorf("OnDrained ran %d times on a closing connection", n)
			}
		})
	}
}

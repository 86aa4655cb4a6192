package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleTimeout: with a 200 ms idle timeout a silent connection is closed
// not before 200 ms and well within a second, with a timeout reason; one
// with traffic every 50 ms stays open for many intervals.
func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	tests := []struct {
		name string
		// every is the client's traffic period; 0 is silent.
		every time.Duration
		// talkFor is how long the client keeps talking before falling
		// silent.
		talkFor time.Duration
	}{
		{name: "silent"},
		{name: "active", every: 50 * time.Millisecond, talkFor: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecHandler(1)
			_, addr := startEngine(t, h, WithShards(1), WithIdleTimeout(idle))
			start := time.Now() // before the server can know the conn
			nc := dialT(t, "tcp", addr)
			recvOpen(t, h)
			for i := 0; time.Since(start) < tc.talkFor; i++ {
				if !echoCheck(t, nc, i) {
					t.Fatalf("active connection failed after %v", time.Since(start))
				}
				time.Sleep(tc.every)
			}
			lastTraffic := time.Now()
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := nc.Read(make([]byte, 1))
			closedAfter := time.Since(lastTraffic)
			if !closedByPeer(err) {
				t.Fatalf("read: %v; want the server's close", err)
			}
			// One-sided: never early; late only by a generous slack.
			if tc.every == 0 && time.Since(start) < idle {
				t.Fatalf("closed after %v, before the %v idle timeout", time.Since(start), idle)
			}
			if closedAfter > time.Second {
				t.Fatalf("closed %v after the last traffic; want well within a second", closedAfter)
			}
			ev := recvClose(t, h)
			var ne net.Error
			if !errors.Is(ev.reason, ErrTimeout) || !errors.As(ev.reason, &ne) || !ne.Timeout() {
				t.Fatalf("OnClose reason %v; want a net.Error timeout matching ErrTimeout", ev.reason)
			}
		})
	}
}

// deadlineHandler sets a deadline when a connection opens, and for the
// write deadline queues more than the socket takes (the client does not
// read), in the order the test asks for.
type deadlineHandler struct {
	BaseHandler
	rec      *recHandler
	set      func(c *Conn, t time.Time)
	d        time.Duration
	write    int  // bytes to queue
	setFirst bool // set the deadline before queueing
	later    int  // bytes to queue when the client sends something
}

func (h *deadlineHandler) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	if h.later > 0 {
		c.Write(make([]byte, h.later))
	}
}

func (h *deadlineHandler) OnOpen(c *Conn) error {
	if h.setFirst {
		h.set(c, time.Now().Add(h.d))
	}
	if h.write > 0 {
		if _, err := c.Write(make([]byte, h.write)); err != nil {
			return err
		}
	}
	if !h.setFirst {
		h.set(c, time.Now().Add(h.d))
	}
	return nil
}

func (h *deadlineHandler) OnClose(c *Conn, reason error) { h.rec.OnClose(c, reason) }

// TestDeadlines: a read deadline closes a connection that stays silent past
// it; a write deadline closes one whose output is still queued then,
// whether it was set before or after the output was queued.
func TestDeadlines(t *testing.T) {
	const d = 150 * time.Millisecond
	tests := []struct {
		name string
		h    *deadlineHandler
		want string
	}{
		{name: "read", h: &deadlineHandler{set: (*Conn).SetReadDeadline}, want: "read timeout"},
		{name: "write, set after queueing", h: &deadlineHandler{set: (*Conn).SetWriteDeadline, write: 4 << 20}, want: "write timeout"},
		{name: "write, set before queueing", h: &deadlineHandler{set: (*Conn).SetWriteDeadline, write: 4 << 20, setFirst: true}, want: "write timeout"},
		// The deadline outlives a drain: a small write leaves at once,
		// and output that stalls later is still under it.
		{name: "write, stalls after a drain", h: &deadlineHandler{set: (*Conn).SetWriteDeadline, write: 10, later: 4 << 20}, want: "write timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.rec, tc.h.d = newRecHandler(1), d
			// Small socket buffers: 4 MiB surely stalls on a client that
			// does not read.
			_, addr := startEngine(t, tc.h, WithShards(1), WithSocketBuffers(64<<10, 0))
			start := time.Now()
			nc := dialT(t, "tcp", addr) // never reads
			if tc.h.later > 0 {
				time.Sleep(d / 3)
				nc.Write([]byte("x"))
			}
			var ev closeEvent
			select {
			case ev = <-tc.h.rec.closed:
			case <-time.After(5 * time.Second):
				t.Fatalf("still open 5 s after a %v deadline", d)
			}
			took := time.Since(start)
			var ne net.Error
			if !errors.As(ev.reason, &ne) || !ne.Timeout() || ev.reason.Error() != "engine: "+tc.want {
				t.Fatalf("OnClose reason %v; want the %s", ev.reason, tc.want)
			}
			// Generous above: the race detector on a loaded machine.
			if took < d || took > d+2*time.Second {
				t.Fatalf("closed after %v; want %v and not much later", took, d)
			}
		})
	}
}

// TestHeartbeat: the hook runs for every open connection, periodically.
func TestHeartbeat(t *testing.T) {
	var beats sync.Map // conn ID -> *atomic.Int64
	hook := func(c *Conn) {
		v, _ := beats.LoadOrStore(c.ID(), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	_, addr := startEngine(t, BaseHandler{}, WithShards(2), WithHeartbeat(20*time.Millisecond, hook))
	for i := 0; i < 4; i++ {
		_ = dialT(t, "tcp", addr)
	}
	time.Sleep(300 * time.Millisecond)
	n := 0
	beats.Range(func(_, v any) bool {
		n++
		if b := v.(*atomic.Int64).Load(); b < 3 {
			t.Errorf("a connection got %d heartbeats in 300 ms at 20 ms", b)
		}
		return true
	})
	if n != 4 {
		t.Fatalf("%d connections got heartbeats, want 4", n)
	}
}

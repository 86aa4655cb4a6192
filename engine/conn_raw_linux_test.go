package engine

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawWriter writes total bytes to its connection's fd itself, as a splice
// or sendfile user would, until EAGAIN; then it asks NotifyWritable and
// goes on from OnDrained. It counts what it wrote with CountBytes.
type rawWriter struct {
	BaseHandler
	total   int
	sent    int
	drained atomic.Int32
	notify  atomic.Int32
	errs    chan error
}

func (h *rawWriter) OnOpen(c *Conn) error { h.pump(c); return nil }

func (h *rawWriter) OnDrained(c *Conn) {
	h.drained.Add(1)
	h.pump(c)
}

func (h *rawWriter) pump(c *Conn) {
	chunk := bytes.Repeat([]byte{'r'}, 64<<10)
	for h.sent < h.total {
		n, err := unix.Write(c.Fd(), chunk[:min(len(chunk), h.total-h.sent)])
		if n > 0 {
			h.sent += n
			c.CountBytes(0, n)
		}
		if err == unix.EAGAIN {
			h.notify.Add(1)
			if err := c.NotifyWritable(); err != nil {
				h.errs <- err
			}
			return
		}
		if err != nil {
			h.errs <- err
			return
		}
	}
	c.Close()
}

// TestNotifyWritable: a handler that writes to the fd itself fills the
// socket, asks NotifyWritable, and is called back in OnDrained each time
// the peer makes room, until all its bytes are through; CountBytes puts
// them in the shard's counters. With output queued, NotifyWritable waits
// for it to be sent.
func TestNotifyWritable(t *testing.T) {
	const total = 8 << 20
	h := &rawWriter{total: total, errs: make(chan error, 4)}
	e, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	time.Sleep(100 * time.Millisecond) // let the socket fill before reading
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil || len(got) != total {
		t.Fatalf("read %d bytes, %v; want %d and EOF", len(got), err, total)
	}
	select {
	case err := <-h.errs:
		t.Fatalf("handler: %v", err)
	default:
	}
	if n, d := h.notify.Load(), h.drained.Load(); n == 0 || d != n {
		t.Fatalf("NotifyWritable %d times, OnDrained %d times; want at least one and as many", n, d)
	}
	if out := e.Stats().Shards[0].BytesOut; out != total {
		t.Fatalf("BytesOut %d, want %d (CountBytes)", out, total)
	}
}

// notifyQueued writes a large reply the normal way, then asks
// NotifyWritable at once: OnDrained must come only after all of it left.
type notifyQueued struct {
	BaseHandler
	reply   []byte
	drained chan int // OutboundBuffered when OnDrained ran
}

func (h *notifyQueued) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	c.Write(h.reply)
	if err := c.NotifyWritable(); err != nil {
		h.drained <- -1
	}
}

func (h *notifyQueued) OnDrained(c *Conn) { h.drained <- c.OutboundBuffered() }

func TestNotifyWritableWaitsForQueued(t *testing.T) {
	h := &notifyQueued{reply: bytes.Repeat([]byte{'q'}, 4<<20), drained: make(chan int, 2)}
	_, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	nc.Write([]byte("go"))
	time.Sleep(100 * time.Millisecond)
	select {
	case q := <-h.drained:
		t.Fatalf("OnDrained before the peer read anything (%d bytes queued)", q)
	default:
	}
	got := make([]byte, len(h.reply))
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	select {
	case q := <-h.drained:
		if q != 0 {
			t.Fatalf("OnDrained with %d bytes still queued", q)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OnDrained after the queued output was sent")
	}
}

// closeThenNotify closes in OnOpen and reports NotifyWritable's error.
type closeThenNotify struct {
	BaseHandler
	res chan error
}

func (h closeThenNotify) OnOpen(c *Conn) error {
	c.Close()
	h.res <- c.NotifyWritable()
	return nil
}

// TestNotifyWritableClosed: on a closing connection NotifyWritable fails.
func TestNotifyWritableClosed(t *testing.T) {
	res := make(chan error, 1)
	h := closeThenNotify{res: res}
	_, addr := startEngine(t, h, WithShards(1))
	dialT(t, "tcp", addr)
	if err := <-res; !errors.Is(err, ErrConnClosed) {
		t.Fatalf("NotifyWritable after Close: %v, want ErrConnClosed", err)
	}
}

package engine

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// flushInRelease writes from a release and flushes there, inside the
// engine's Consume of the same chain.
type flushInRelease struct {
	BaseHandler
	closed chan error
}

func (h *flushInRelease) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	c.WriteOwned([]byte("AAAA"), func(bool) { c.Write([]byte("x")); c.Flush() })
	c.WriteOwned([]byte("BBBB"), nil)
}

func (h *flushInRelease) OnClose(_ *Conn, err error) { h.closed <- err }

// TestFlushInsideRelease (found by review): Flush from a release used to
// resend bytes the chain still linked though they were sent, then abort.
func TestFlushInsideRelease(t *testing.T) {
	h := &flushInRelease{closed: make(chan error, 1)}
	_, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	nc.Write([]byte("go"))
	want := []byte("AAAABBBBx")
	got := make([]byte, 0, 64)
	buf := make([]byte, 64)
	nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !errors.Is(err, io.EOF) && !isTimeout(err) {
				t.Errorf("read: %v", err)
			}
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("peer got %q, want %q", got, want)
	}
	select {
	case err := <-h.closed:
		t.Errorf("connection closed: %v", err)
	default:
	}
}

// notifyFill queues a reply and asks NotifyWritable; in OnDrained it fills
// the socket itself and asks again once.
type notifyFill struct {
	BaseHandler
	reply  []byte
	mu     sync.Mutex
	calls  []string
	rounds int
}

func (h *notifyFill) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	c.Write(h.reply)
	c.NotifyWritable()
}

func (h *notifyFill) OnDrained(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.OutboundBuffered() > 0 {
		h.calls = append(h.calls, "queued>0")
		return
	}
	chunk := make([]byte, 64<<10)
	took := 0
	for {
		n, err := unix.Write(c.Fd(), chunk)
		if n > 0 {
			took += n
		}
		if err != nil {
			break
		}
	}
	if took == 0 {
		h.calls = append(h.calls, "socket-full")
	} else {
		h.calls = append(h.calls, "ok")
	}
	if h.rounds++; h.rounds < 2 {
		c.NotifyWritable()
	}
}

// TestNotifyWritableOnce (found by review): each NotifyWritable gives one
// OnDrained, with nothing queued and the socket writable; not a second one
// from the readiness report that came before it, nor one from the
// watermark with bytes still queued.
func TestNotifyWritableOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"no watermark", []Option{WithWatermarks(16<<20, 32<<20), WithMaxQueuedOutput(64 << 20)}},
		{"watermark", []Option{WithWatermarks(64<<10, 128<<10)}},
		{"watermark small sndbuf", []Option{WithWatermarks(64<<10, 128<<10), WithSocketBuffers(16<<10, 16<<10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &notifyFill{reply: bytes.Repeat([]byte{'q'}, 4<<20)}
			_, addr := startEngine(t, h, append(tc.opts, WithShards(1))...)
			nc := dialT(t, "tcp", addr)
			nc.Write([]byte("go"))
			time.Sleep(100 * time.Millisecond)
			got := make([]byte, len(h.reply))
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			for off := 0; off < len(got); { // exactly the queued reply, then stop reading
				n, err := nc.Read(got[off:min(len(got), off+16<<10)])
				if err != nil {
					t.Fatal(err)
				}
				off += n
			}
			time.Sleep(200 * time.Millisecond)
			h.mu.Lock()
			calls := append([]string(nil), h.calls...)
			h.mu.Unlock()
			// Two NotifyWritable calls (the second from the first
			// OnDrained, after filling the socket): at most two
			// OnDrained, each with nothing queued and room in the socket
			// (the peer's last reads of the reply may make that room).
			if len(calls) == 0 || len(calls) > 2 {
				t.Errorf("OnDrained calls %v; want one or two", calls)
			}
			for _, c := range calls {
				if c != "ok" {
					t.Errorf("OnDrained calls %v; each must find nothing queued and a writable socket", calls)
					break
				}
			}
		})
	}
}

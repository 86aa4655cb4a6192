package engine

import (
	"bytes"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// releaseCloser queues a large owned slice, then a second one whose release
// runs inside flush's Consume and aborts, closes or panics; a third slice
// stays queued behind it.
type releaseCloser struct {
	BaseHandler
	mode    string
	closes  atomic.Int32
	reason  chan error
	payload []byte
}

func (h *releaseCloser) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	c.WriteOwned(h.payload, func(bool) {
		switch h.mode {
		case "abort":
			c.Write([]byte("more")) // queued, then dropped by the abort
			c.Abort()
		case "close":
			c.Write([]byte("tail"))
			c.Close()
		case "panic":
			panic("release panics")
		}
	})
	c.Write(bytes.Repeat([]byte{'z'}, 8<<10))
}

func (h *releaseCloser) OnClose(_ *Conn, err error) {
	h.closes.Add(1)
	h.reason <- err
}

// TestReleaseClosesDuringConsume: whatever a release inside Consume
// does to its connection, OnClose runs once and the shard's QueuedBytes
// returns to 0.
func TestReleaseClosesDuringConsume(t *testing.T) {
	for _, mode := range []string{"abort", "close", "panic"} {
		t.Run(mode, func(t *testing.T) {
			h := &releaseCloser{mode: mode, reason: make(chan error, 4), payload: bytes.Repeat([]byte{'p'}, 1<<20)}
			e, addr := startEngine(t, h, WithShards(1), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			nc := dialT(t, "tcp", addr)
			nc.Write([]byte("go"))
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _ := io.Copy(io.Discard, nc) // EOF or reset
			nc.Close()
			if want := int64(len(h.payload) + 8<<10 + 4); mode == "close" && n != want {
				t.Errorf("peer read %d bytes, want %d", n, want)
			}
			select {
			case <-h.reason:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnClose")
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				st := e.Stats().Shards[0]
				if st.QueuedBytes == 0 && st.Conns == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("QueuedBytes %d, Conns %d after close; want 0, 0", st.QueuedBytes, st.Conns)
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			if n := h.closes.Load(); n != 1 {
				t.Fatalf("OnClose ran %d times, want 1", n)
			}
		})
	}
}

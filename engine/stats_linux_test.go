package engine

import (
	"io"
	"testing"
	"time"
)

// bulkHandler writes size bytes to every new connection and records the
// connection so the test can look at its buffers on the shard.
type bulkHandler struct {
	BaseHandler
	size  int
	conns chan *Conn
}

func (h *bulkHandler) OnOpen(c *Conn) error {
	h.conns <- c
	_, err := c.Write(make([]byte, h.size))
	return err
}

func TestStatsQueuedBytes(t *testing.T) {
	const size = 8 << 20
	h := &bulkHandler{size: size, conns: make(chan *Conn, 1)}
	e, addr := startEngine(t, h, WithShards(1), WithSocketBuffers(64<<10, 64<<10))
	nc := dialT(t, "tcp", addr)
	<-h.conns
	// The client reads nothing yet, so most of the 8 MiB waits on the
	// shard and its stats say so.
	if !waitFor(5*time.Second, func() bool { return e.Stats().Shards[0].QueuedBytes > size/2 }) {
		t.Fatalf("queued bytes %d while the peer does not read, want > %d", e.Stats().Shards[0].QueuedBytes, size/2)
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.CopyN(io.Discard, nc, size); err != nil {
		t.Fatalf("draining: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return e.Stats().Shards[0].QueuedBytes == 0 }) {
		t.Fatalf("queued bytes %d after the peer read everything, want 0", e.Stats().Shards[0].QueuedBytes)
	}
}

// partialHandler consumes input only in whole 10-byte records, so the rest
// waits in the connection's inbound ring between reads.
type partialHandler struct {
	BaseHandler
	conns chan *Conn
}

func (h *partialHandler) OnOpen(c *Conn) error { h.conns <- c; return nil }

func (h *partialHandler) OnTraffic(c *Conn) {
	for c.Buffered() >= 10 {
		b, _ := c.Next(10)
		c.Write(b)
	}
}

func TestIdleConnectionHoldsNoBuffer(t *testing.T) {
	h := &partialHandler{conns: make(chan *Conn, 1)}
	e, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	c := <-h.conns
	// Seven bytes stay unread and go to the ring; the next three complete
	// the record and empty it.
	nc.Write([]byte("0123456"))
	time.Sleep(50 * time.Millisecond)
	if got, err := roundTrip(nc, []byte("789"), 5*time.Second); err != nil || string(got) != "012" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	rest := make([]byte, 7)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, rest); err != nil || string(rest) != "3456789" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	held := make(chan *connBufs, 1)
	h2, ok := e.Conn(c.ID())
	if !ok {
		t.Fatal("connection not found")
	}
	h2.Do(func(c *Conn) { held <- c.buf })
	if b := <-held; b != nil {
		t.Fatalf("idle connection holds buffers (inbound cap %d, %d queued bytes), want none", b.in.Cap(), b.out.Len())
	}
}

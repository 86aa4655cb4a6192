package engine

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addrHandler discards input and publishes each connection under its peer
// address, so a client can find its server side.
type addrHandler struct {
	BaseHandler
	conns sync.Map // peer address string -> *Conn
}

func (h *addrHandler) OnOpen(c *Conn) error {
	h.conns.Store(c.RemoteAddr().String(), c)
	return nil
}

// serverSide waits for the server side of client nc.
func (h *addrHandler) serverSide(t *testing.T, nc net.Conn) *Conn {
	t.Helper()
	var c *Conn
	if !waitFor(5*time.Second, func() bool {
		v, ok := h.conns.Load(nc.LocalAddr().String())
		if ok {
			c = v.(*Conn)
		}
		return ok
	}) {
		t.Fatalf("no server connection for %s", nc.LocalAddr())
	}
	return c
}

// orderMsg is one numbered message: writer, sequence, connection and a
// check word that catches torn or mixed-up messages.
const orderMsgLen = 16

func putOrderMsg(b []byte, writer, seq, conn uint32) {
	binary.BigEndian.PutUint32(b[0:], writer)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], conn)
	binary.BigEndian.PutUint32(b[12:], writer*2654435761^seq*40503^conn^0xA5A5A5A5)
}

// TestAsyncWriteOrder has 8 goroutines per connection AsyncWrite 1,000
// numbered messages each, on 64 connections spread over every shard: each
// message must arrive whole, and each goroutine's messages in order.
func TestAsyncWriteOrder(t *testing.T) {
	const (
		shards  = 4
		conns   = 64
		writers = 8
		msgs    = 1000
	)
	h := &addrHandler{}
	e, addr := startEngine(t, h, WithShards(shards))
	ncs := make([]net.Conn, conns)
	scs := make([]*Conn, conns)
	perShard := make([]int, shards)
	for i := range ncs {
		ncs[i] = dialT(t, "tcp", addr)
		scs[i] = h.serverSide(t, ncs[i])
		perShard[scs[i].Shard()]++
	}
	for s, n := range perShard {
		if n == 0 {
			t.Fatalf("shard %d got no connection: %v", s, perShard)
		}
	}

	// Readers: check every message as it arrives.
	var readers sync.WaitGroup
	for i, nc := range ncs {
		readers.Add(1)
		go func(i int, nc net.Conn) {
			defer readers.Done()
			next := make([]uint32, writers)
			msg := make([]byte, orderMsgLen)
			nc.SetReadDeadline(time.Now().Add(60 * time.Second))
			for got := 0; got < writers*msgs; got++ {
				if _, err := io.ReadFull(nc, msg); err != nil {
					t.Errorf("conn %d: after %d messages: %v", i, got, err)
					return
				}
				w := binary.BigEndian.Uint32(msg[0:])
				seq := binary.BigEndian.Uint32(msg[4:])
				conn := binary.BigEndian.Uint32(msg[8:])
				check := binary.BigEndian.Uint32(msg[12:])
				if w >= writers || conn != uint32(i) || check != w*2654435761^seq*40503^conn^0xA5A5A5A5 {
					t.Errorf("conn %d: torn or foreign message %x", i, msg)
					return
				}
				if seq != next[w] {
					t.Errorf("conn %d writer %d: message %d arrived, want %d", i, w, seq, next[w])
					return
				}
				next[w]++
			}
		}(i, nc)
	}

	// Writers: each message has its own bytes, untouched until done.
	var writersWG sync.WaitGroup
	var doneOK, doneErr atomic.Int64
	done := func(err error) {
		if err != nil {
			doneErr.Add(1)
		} else {
			doneOK.Add(1)
		}
	}
	for i := range scs {
		for w := 0; w < writers; w++ {
			writersWG.Add(1)
			go func(i, w int) {
				defer writersWG.Done()
				buf := make([]byte, msgs*orderMsgLen)
				for seq := 0; seq < msgs; seq++ {
					m := buf[seq*orderMsgLen : (seq+1)*orderMsgLen : (seq+1)*orderMsgLen]
					putOrderMsg(m, uint32(w), uint32(seq), uint32(i))
					if err := scs[i].AsyncWrite(m, done); err != nil {
						t.Errorf("conn %d writer %d: AsyncWrite %d: %v", i, w, seq, err)
						return
					}
				}
			}(i, w)
		}
	}
	writersWG.Wait()
	readers.Wait()
	if !waitFor(5*time.Second, func() bool { return doneOK.Load()+doneErr.Load() == conns*writers*msgs }) {
		t.Fatalf("done ran %d times, want %d", doneOK.Load()+doneErr.Load(), conns*writers*msgs)
	}
	if doneErr.Load() != 0 {
		t.Fatalf("%d AsyncWrite callbacks got an error", doneErr.Load())
	}
	var out uint64
	for _, s := range e.Stats().Shards {
		out += s.BytesOut
	}
	if want := uint64(conns * writers * msgs * orderMsgLen); out != want {
		t.Fatalf("Stats BytesOut = %d, want %d", out, want)
	}
}

// wakeHandler counts OnTraffic calls that found nothing to read.
type wakeHandler struct {
	addrHandler
	woken atomic.Int64
}

func (h *wakeHandler) OnTraffic(c *Conn) {
	if c.Buffered() == 0 {
		h.woken.Add(1)
	}
	c.Discard(c.Buffered())
}

// TestHandleOps: AsyncWritev sends its slices in order as one write (empty
// ones included) with one done; Wake runs OnTraffic with nothing to read;
// Handle.Close closes gracefully; a handle of a closed connection is inert.
func TestHandleOps(t *testing.T) {
	h := &wakeHandler{}
	e, addr := startEngine(t, h, WithShards(2))
	nc := dialT(t, "tcp", addr)
	c := h.serverSide(t, nc)
	hd, ok := e.Conn(c.ID())
	if !ok {
		t.Fatal("no handle")
	}
	var calls atomic.Int64
	done := make(chan error, 2)
	parts := [][]byte{[]byte("one "), nil, []byte("two "), {}, []byte("three")}
	if err := hd.AsyncWritev(parts, func(err error) { calls.Add(1); done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("AsyncWritev done: %v", err)
	}
	got := make([]byte, len("one two three"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "one two three" {
		t.Fatalf("AsyncWritev sent %q, %v", got, err)
	}
	if err := hd.Wake(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return h.woken.Load() == 1 }) {
		t.Fatalf("Wake: OnTraffic ran %d times with nothing to read, want 1", h.woken.Load())
	}
	if err := hd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("after Handle.Close: %v, want EOF", err)
	}
	nc.Close()
	if !waitFor(5*time.Second, func() bool { _, ok := e.Conn(c.ID()); return !ok }) {
		t.Fatal("connection still found after closing")
	}
	// The stale handle: its tasks find the ID gone and do nothing.
	if err := hd.Wake(); err != nil {
		t.Fatalf("Wake on a closed connection: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if h.woken.Load() != 1 || calls.Load() != 1 {
		t.Fatalf("stale handle ran OnTraffic (%d) or a second done (%d)", h.woken.Load(), calls.Load())
	}
}

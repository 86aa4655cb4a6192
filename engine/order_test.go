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

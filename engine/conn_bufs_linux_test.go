package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// reviewFramer echoes whole length-prefixed frames and leaves partial ones
// unread, so connections hold input between calls (borrowed buffers), and
// answers with AsyncWrite (half the connections) or by turns with Write,
// WriteOwned and Writev, so output is
// queued, sent and the buffers given back and lent again to the shard's
// other connections all the time.
type reviewFramer struct {
	BaseHandler
	mu sync.Mutex
	n  int
}

func (h *reviewFramer) OnTraffic(c *Conn) {
	for {
		hdr, err := c.Peek(4)
		if err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr))
		if c.Buffered() < 4+n {
			return
		}
		frame, _ := c.Next(4 + n)
		h.mu.Lock()
		h.n++
		k := h.n % 3
		h.mu.Unlock()
		switch {
		case c.ID()%2 == 0:
			// AsyncWrite reaches the loop after the loop's own writes
			// of this callback, so a connection uses it alone.
			c.AsyncWrite(bytes.Clone(frame), nil)
		case k == 0:
			c.Write(frame)
		case k == 1:
			c.WriteOwned(bytes.Clone(frame), nil)
		default:
			c.Writev([][]byte{frame[:4], frame[4:]})
		}
	}
}

// TestBufsLending: 40 connections on one shard send frames split at
// odd places; every one gets back exactly its own bytes in order.
func TestBufsLending(t *testing.T) {
	_, addr := startEngine(t, &reviewFramer{}, WithShards(1))
	const conns, frames = 40, 60
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		nc := dialT(t, "tcp", addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var want bytes.Buffer
			for j := range frames {
				body := bytes.Repeat([]byte(fmt.Sprintf("c%d-f%d;", i, j)), 1+(i*7+j*13)%900)
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
				want.Write(hdr[:])
				want.Write(body)
			}
			msg := want.Bytes()
			go func() {
				// Odd-sized pieces, so frames straddle reads.
				for off := 0; off < len(msg); {
					k := min(len(msg)-off, 1+(off*31+i)%5000)
					nc.Write(msg[off : off+k])
					off += k
					if off%3 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(nc, got); err != nil {
				errs <- fmt.Errorf("conn %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("conn %d: echo differs from what it sent", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

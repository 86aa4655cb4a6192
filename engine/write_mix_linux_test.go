package engine

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// burstHandler answers each byte it reads with one burst of writes of
// mixed sizes in the same callback: some go straight to the socket, some
// are gathered, and the socket may fill in the middle.
type burstHandler struct {
	BaseHandler
	burst [][]byte
}

func (h *burstHandler) OnTraffic(c *Conn) {
	n := c.Buffered()
	c.Discard(n)
	for range n {
		for _, b := range h.burst {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}
}

// TestWriteMixedSizesOneCallback checks that writes of every size class
// made in one callback (small and gathered, medium after a direct one, and
// large enough to go direct again) arrive whole and in order.
func TestWriteMixedSizesOneCallback(t *testing.T) {
	sizes := []struct {
		name string
		n    int
	}{
		{"small", 100},
		{"medium, first goes direct", directWriteMin},
		{"medium, gathered", directWriteMin + 1},
		{"medium, gathered", 3 * directWriteMin},
		{"small after gathered", 7},
		{"large, direct when nothing queued", directWriteAlways},
		{"medium after large", directWriteMin},
		{"large again", 2*directWriteAlways + 5},
		{"small tail", 1},
	}
	var burst [][]byte
	var want []byte
	for i, s := range sizes {
		b := bytes.Repeat([]byte{byte('a' + i)}, s.n)
		for j := range b {
			b[j] ^= byte(j / 251) // catch shifted or repeated blocks
		}
		burst = append(burst, b)
		want = append(want, b...)
	}
	_, addr := startEngine(t, &burstHandler{burst: burst}, WithShards(1))
	for _, triggers := range []int{1, 3} {
		nc := dialT(t, "tcp", addr)
		nc.Write(bytes.Repeat([]byte{'x'}, triggers))
		got := make([]byte, triggers*len(want))
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(nc, got); err != nil {
			t.Fatalf("%d trigger(s): read: %v", triggers, err)
		}
		for k := range triggers {
			part := got[k*len(want) : (k+1)*len(want)]
			if !bytes.Equal(part, want) {
				i := 0
				for i < len(want) && part[i] == want[i] {
					i++
				}
				t.Fatalf("%d trigger(s): burst %d differs at byte %d of %d", triggers, k, i, len(want))
			}
		}
		nc.Close()
	}
}

// answerHandler answers each 8-byte request it reads, one by one, with an
// answer of its size, and reports how much output each callback's first
// answer left queued: none if it went straight to the socket.
type answerHandler struct {
	BaseHandler
	answer []byte
	queued chan int
}

func (h *answerHandler) OnTraffic(c *Conn) {
	first := true
	for c.Buffered() >= 8 {
		c.Discard(8)
		if _, err := c.Write(h.answer); err != nil {
			return
		}
		if first {
			h.queued <- c.OutboundBuffered()
			first = false
		}
	}
}

// TestDirectWriteOnlyAnswer: a medium write (directWriteMin up to
// directWriteAlways) goes straight to the socket only when the handler has
// no input left unread, i.e. when it is the callback's only answer; a
// handler answering pipelined requests one by one gathers them all into
// one writev. A large write goes direct either way. Every answer arrives.
func TestDirectWriteOnlyAnswer(t *testing.T) {
	tests := []struct {
		name       string
		answer     int
		requests   int
		wantQueued bool // the first answer waits in the queue
	}{
		{name: "one request: direct", answer: directWriteMin, requests: 1},
		{name: "pipelined requests: gathered", answer: directWriteMin, requests: 4, wantQueued: true},
		{name: "large answer, pipelined: direct", answer: directWriteAlways, requests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &answerHandler{answer: bytes.Repeat([]byte{'a'}, tc.answer), queued: make(chan int, 16)}
			_, addr := startEngine(t, h, WithShards(1))
			nc := dialT(t, "tcp", addr)
			if _, err := nc.Write(bytes.Repeat([]byte{'q'}, 8*tc.requests)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, tc.answer*tc.requests)
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(nc, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, bytes.Repeat([]byte{'a'}, len(got))) {
				t.Fatal("answers differ from what was written")
			}
			q := <-h.queued
			if (q > 0) != tc.wantQueued {
				t.Errorf("after the first answer %d bytes were queued; want queued %v", q, tc.wantQueued)
			}
		})
	}
}

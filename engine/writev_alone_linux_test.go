package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// aloneSeen is what one callback of aloneAnswerer found on the shard.
type aloneSeen struct {
	clearAtStart bool // no lone answer was noted when the callback began
	noted        bool // after the first answer: noted as the lone one, not in the dirty list
	copied       bool // the connection borrowed buffers (output copied into the queue)
}

// aloneAnswerer answers each byte with frames of payload, by what the byte
// says: 'a' one answer; 'b' two answers in the same callback; 'c' one
// answer, then Close; 'x' one answer, then one on the other connection
// (other, set by the test). Each answer is one Writev of a 4-byte length
// and the payload, as tools/rpc answers.
type aloneAnswerer struct {
	BaseHandler
	payload []byte
	mu      sync.Mutex
	other   *Conn
	seen    chan aloneSeen
}

func (h *aloneAnswerer) OnOpen(c *Conn) error {
	h.mu.Lock()
	if h.other == nil {
		h.other = c
	}
	h.mu.Unlock()
	return nil
}

func (h *aloneAnswerer) answer(c *Conn) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(h.payload)))
	if _, err := c.Writev([][]byte{hdr[:], h.payload}); err != nil {
		c.Abort()
	}
}

func (h *aloneAnswerer) OnTraffic(c *Conn) {
	s := aloneSeen{clearAtStart: c.sh.alone == nil}
	b, err := c.Next(1)
	if err != nil {
		return
	}
	h.answer(c)
	s.noted = c.sh.alone == c && c.flags&flagDirty == 0
	switch b[0] {
	case 'b':
		h.answer(c)
	case 'c':
		c.Close()
	case 'x':
		h.mu.Lock()
		o := h.other
		h.mu.Unlock()
		h.answer(o)
	}
	s.copied = c.buf != nil
	h.seen <- s
}

// TestWritevAloneBookkeeping: a lone small answer that goes out whole is
// noted on the shard instead of joining the dirty list, the note lasts
// until the end of its callback (the next callback's lone answer goes
// alone again, not copied), a second answer in the same callback is
// gathered behind it, a Close after it sends the answer and then the FIN,
// and an answer on a second connection in the same callback is flushed as
// before. The peers get every frame whole and in order.
func TestWritevAloneBookkeeping(t *testing.T) {
	payload := bytes.Repeat([]byte("q"), 60)
	tests := []struct {
		name   string
		send   string // one byte per round trip
		frames []int  // frames the first peer reads per byte
		copied []bool // the connection borrowed buffers in that callback
		eof    bool   // the first peer reads EOF after the frames
		other  int    // frames the second peer reads
	}{
		{name: "consecutive lone answers", send: "aaaaaaaaaa", frames: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, copied: []bool{false, false, false, false, false, false, false, false, false, false}},
		{name: "a second answer in the callback is gathered", send: "aba", frames: []int{1, 2, 1}, copied: []bool{false, true, false}},
		{name: "close after a lone answer", send: "c", frames: []int{1}, copied: []bool{false}, eof: true},
		{name: "a lone answer and one on another connection", send: "xa", frames: []int{1, 1}, copied: []bool{false, false}, other: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &aloneAnswerer{payload: payload, seen: make(chan aloneSeen, 16)}
			_, addr := startEngine(t, h, WithShards(1))
			// The first connection the engine opens is the one answered
			// on the side ('x'): it only listens.
			side := dialT(t, "tcp", addr)
			if !waitFor(5*time.Second, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.other != nil }) {
				t.Fatal("the side connection never opened")
			}
			nc := dialT(t, "tcp", addr)
			frame := make([]byte, 4+len(payload))
			readFrame := func(c net.Conn, what string) {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, frame); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if n := binary.BigEndian.Uint32(frame); n != uint32(len(payload)) || !bytes.Equal(frame[4:], payload) {
					t.Fatalf("%s: header %d, payload intact %v", what, n, bytes.Equal(frame[4:], payload))
				}
			}
			for i := range len(tc.send) {
				if _, err := nc.Write([]byte{tc.send[i]}); err != nil {
					t.Fatal(err)
				}
				for range tc.frames[i] {
					readFrame(nc, "answer to "+string(tc.send[i]))
				}
				var s aloneSeen
				select {
				case s = <-h.seen:
				case <-time.After(5 * time.Second):
					t.Fatalf("byte %d: no callback", i)
				}
				if !s.clearAtStart {
					t.Errorf("byte %d: a lone answer was still noted when the callback began", i)
				}
				if !s.noted {
					t.Errorf("byte %d: the lone answer was not noted on the shard, or joined the dirty list", i)
				}
				if s.copied != tc.copied[i] {
					t.Errorf("byte %d: output copied into the queue %v, want %v", i, s.copied, tc.copied[i])
				}
			}
			if tc.eof {
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := nc.Read(frame); !errors.Is(err, io.EOF) {
					t.Fatalf("after Close: read %d bytes, %v; want EOF", n, err)
				}
			}
			for range tc.other {
				readFrame(side, "answer on the side connection")
			}
		})
	}
}

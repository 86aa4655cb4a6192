package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
)

// threadWrites returns how many write system calls (write, writev and the
// like: the kernel's syscw) the OS thread tid has made.
func threadWrites(t *testing.T, tid int64) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/io", tid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "syscw: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/task/TID/io")
	return 0
}

// frameEncoder answers each byte read with one length-prefixed frame of
// size bytes, encoded by codec.LengthField straight onto the Conn (a
// codec.VectorSink), and records whether the connection had to borrow
// buffers for it (that is, whether the payload was copied).
type frameEncoder struct {
	BaseHandler
	enc      *codec.LengthField
	payload  []byte
	borrowed chan bool
}

func (h *frameEncoder) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	if err := h.enc.Encode(c, nil, h.payload); err != nil {
		c.Abort()
		return
	}
	h.borrowed <- c.buf != nil
}

// TestWritevDirect: a header and a large payload handed over through
// Writev (as codec encoders do) leave in one write system call straight
// from the caller's slices, without a copy into the connection's output
// queue; a small one is copied and leaves in one writev at the end of the
// callback. The peer gets the exact frame either way.
func TestWritevDirect(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		borrowed bool // copied into the output queue
	}{
		{name: "large payload goes direct", size: 16 << 10, borrowed: false},
		{name: "small payload is gathered", size: 100, borrowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := codec.NewLengthField(codec.LengthFieldConfig{MaxFrameLength: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			h := &frameEncoder{enc: enc, payload: bytes.Repeat([]byte("p"), tc.size), borrowed: make(chan bool, 1)}
			e, addr := startEngine(t, h, WithShards(1))
			nc := dialT(t, "tcp", addr)
			// The loop reports its thread's ID once it runs.
			if !waitFor(5*time.Second, func() bool { return e.shards[0].loop.OSThread() != 0 }) {
				t.Fatal("the shard's thread ID was never set")
			}
			tid := int64(e.shards[0].loop.OSThread())
			// Let the accept's own work settle before counting.
			time.Sleep(50 * time.Millisecond)
			before := threadWrites(t, tid)
			if _, err := nc.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			frame := make([]byte, 4+tc.size)
			if _, err := io.ReadFull(nc, frame); err != nil {
				t.Fatal(err)
			}
			if n := binary.BigEndian.Uint32(frame); n != uint32(tc.size) || !bytes.Equal(frame[4:], h.payload) {
				t.Fatalf("frame header %d, payload intact %v", n, bytes.Equal(frame[4:], h.payload))
			}
			if got := <-h.borrowed; got != tc.borrowed {
				t.Errorf("output copied into the queue: %v, want %v", got, tc.borrowed)
			}
			if writes := threadWrites(t, tid) - before; writes != 1 {
				t.Errorf("the shard made %d write system calls for one frame, want 1", writes)
			}
		})
	}
}

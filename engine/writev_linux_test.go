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
// size bytes (twice: two frames), encoded by codec.LengthField straight onto
// the Conn (a codec.VectorSink), taking the byte before it answers, and
// records whether the connection had to borrow buffers for its output (that
// is, whether a payload was copied into the output queue).
type frameEncoder struct {
	BaseHandler
	enc      *codec.LengthField
	payload  []byte
	twice    bool
	borrowed chan bool
}

func (h *frameEncoder) OnTraffic(c *Conn) {
	for c.Buffered() > 0 {
		_, _ = c.Next(1)
		if err := h.enc.Encode(c, nil, h.payload); err != nil {
			c.Abort()
			return
		}
		if h.twice {
			if err := h.enc.Encode(c, nil, h.payload); err != nil {
				c.Abort()
				return
			}
		}
	}
	select {
	case h.borrowed <- c.buf != nil:
	default: // a later read: the test looks at the first
	}
}

// TestWritevDirect: a header and a payload handed over through Writev (as
// codec encoders do) leave straight from the caller's slices, without a
// copy into the connection's output queue, when the payload is large, or
// when the frame is small and the callback's whole answer (no input left,
// nothing written before it in the callback). Small frames answering
// pipelined requests are copied and leave together in one writev at the
// end of the callback, and so does a second frame after a lone one: that
// callback makes two write system calls. The peer gets the exact frames,
// in order, either way.
func TestWritevDirect(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		requests int  // bytes the peer sends in one write
		twice    bool // two frames per request
		borrowed bool // copied into the output queue
		writes   int  // write system calls the shard makes
	}{
		{name: "large payload goes direct", size: 16 << 10, requests: 1, borrowed: false, writes: 1},
		{name: "small lone answer goes direct", size: 100, requests: 1, borrowed: false, writes: 1},
		{name: "medium lone answer goes direct", size: 2000, requests: 1, borrowed: false, writes: 1},
		{name: "small pipelined answers are gathered", size: 100, requests: 3, borrowed: true, writes: 1},
		{name: "a second answer after a lone one is gathered", size: 100, requests: 1, twice: true, borrowed: true, writes: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := codec.NewLengthField(codec.LengthFieldConfig{MaxFrameLength: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			h := &frameEncoder{enc: enc, payload: bytes.Repeat([]byte("p"), tc.size), twice: tc.twice, borrowed: make(chan bool, 1)}
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
			if _, err := nc.Write(make([]byte, tc.requests)); err != nil {
				t.Fatal(err)
			}
			frames := tc.requests
			if tc.twice {
				frames *= 2
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			frame := make([]byte, 4+tc.size)
			for i := range frames {
				if _, err := io.ReadFull(nc, frame); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if n := binary.BigEndian.Uint32(frame); n != uint32(tc.size) || !bytes.Equal(frame[4:], h.payload) {
					t.Fatalf("frame %d: header %d, payload intact %v", i, n, bytes.Equal(frame[4:], h.payload))
				}
			}
			if got := <-h.borrowed; got != tc.borrowed {
				t.Errorf("output copied into the queue: %v, want %v", got, tc.borrowed)
			}
			if writes := threadWrites(t, tid) - before; writes != tc.writes {
				t.Errorf("the shard made %d write system calls for %d frames, want %d", writes, frames, tc.writes)
			}
		})
	}
}

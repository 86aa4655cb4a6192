package buffer

import (
	"bytes"
	"strings"
	"testing"
)

// pending returns the concatenation of c's Buffers.
func pending(c *Chain) []byte {
	return bytes.Join(c.Buffers(nil, 0), nil)
}

func TestChainPartialWritev(t *testing.T) {
	// Each step queues bytes (copy writes and owned appends) or consumes n
	// of them, as a writev that wrote n would; after every step the pending
	// bytes must equal the model.
	type step struct {
		write    int // copy this many bytes with Write
		appendN  int // queue this many owned bytes with Append
		consume  int // then Consume this many
		wantSegs int // len(Buffers) after the step
	}
	tests := []struct {
		name      string
		blockSize int
		steps     []step
	}{
		{name: "consume inside one block", blockSize: 64, steps: []step{
			{write: 50, wantSegs: 1}, {consume: 20, wantSegs: 1}, {consume: 29, wantSegs: 1}, {consume: 1, wantSegs: 0},
		}},
		{name: "writes spill into new blocks", blockSize: 64, steps: []step{
			{write: 60, wantSegs: 1}, {write: 10, wantSegs: 2}, {consume: 61, wantSegs: 2}, {write: 100, wantSegs: 3}, {consume: 109, wantSegs: 0},
		}},
		{name: "consume ends exactly at a block edge", blockSize: 64, steps: []step{
			{write: 64, wantSegs: 1}, {write: 64, wantSegs: 2}, {consume: 64, wantSegs: 1}, {consume: 64, wantSegs: 0},
		}},
		{name: "owned slice between blocks", blockSize: 64, steps: []step{
			{write: 10, wantSegs: 1}, {appendN: 1000, wantSegs: 2}, {write: 10, wantSegs: 3},
			{consume: 15, wantSegs: 2}, {consume: 500, wantSegs: 2}, {consume: 495, wantSegs: 1}, {consume: 10, wantSegs: 0},
		}},
		{name: "one byte at a time", blockSize: 64, steps: []step{
			{write: 3, appendN: 2, wantSegs: 2}, {consume: 1, wantSegs: 2}, {consume: 1, wantSegs: 2}, {consume: 1, wantSegs: 1},
			{consume: 1, wantSegs: 1}, {consume: 1, wantSegs: 0},
		}},
		{name: "large write takes large blocks", blockSize: 4096, steps: []step{
			{write: 200 << 10, wantSegs: 4}, {consume: 100 << 10, wantSegs: 3}, {consume: 100 << 10, wantSegs: 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var c Chain
			c.Init(pool, tc.blockSize)
			var model bytes.Buffer
			next := 0
			for i, st := range tc.steps {
				if st.write > 0 {
					p := seq(next, st.write)
					next += st.write
					c.Write(p)
					model.Write(p)
				}
				if st.appendN > 0 {
					p := seq(next, st.appendN)
					next += st.appendN
					c.Append(p, nil)
					model.Write(p)
				}
				runAll(c.Consume(st.consume, nil))
				model.Next(st.consume)
				if c.Len() != model.Len() {
					t.Fatalf("step %d: Len = %d, want %d", i, c.Len(), model.Len())
				}
				if got := pending(&c); !bytes.Equal(got, model.Bytes()) {
					t.Fatalf("step %d: pending bytes differ from the model", i)
				}
				if segs := len(c.Buffers(nil, 0)); segs != st.wantSegs {
					t.Fatalf("step %d: %d slices, want %d", i, segs, st.wantSegs)
				}
			}
			if c.Len() == 0 && pool.Outstanding() != 0 {
				t.Fatalf("drained chain still holds %d bytes of pool memory", pool.Outstanding())
			}
			runAll(c.Reset(nil))
			if pool.Outstanding() != 0 {
				t.Fatalf("Outstanding = %d after Reset", pool.Outstanding())
			}
		})
	}
}

func TestChainAppendReleaseOnce(t *testing.T) {
	type outcome struct{ consumed, dropped int }
	tests := []struct {
		name string
		// run queues an owned slice with the given release and ends the chain's use of it.
		run  func(c *Chain, release func(bool))
		want outcome
	}{
		{name: "consumed in one go", run: func(c *Chain, rel func(bool)) {
			c.Append([]byte("owned"), rel)
			runAll(c.Consume(5, nil))
		}, want: outcome{consumed: 1}},
		{name: "consumed in pieces", run: func(c *Chain, rel func(bool)) {
			c.Write([]byte("ab"))
			c.Append([]byte("owned"), rel)
			runAll(c.Consume(3, nil))
			runAll(c.Consume(3, nil))
			runAll(c.Consume(1, nil))
		}, want: outcome{consumed: 1}},
		{name: "partly consumed then reset", run: func(c *Chain, rel func(bool)) {
			c.Append([]byte("owned"), rel)
			runAll(c.Consume(4, nil))
			runAll(c.Reset(nil))
		}, want: outcome{dropped: 1}},
		{name: "reset before any write", run: func(c *Chain, rel func(bool)) {
			c.Append([]byte("owned"), rel)
			runAll(c.Reset(nil))
			runAll(c.Reset(nil))
		}, want: outcome{dropped: 1}},
		{name: "empty slice is consumed at once", run: func(c *Chain, rel func(bool)) {
			c.Append(nil, rel)
			runAll(c.Reset(nil))
		}, want: outcome{consumed: 1}},
		{name: "release appends more", run: func(c *Chain, rel func(bool)) {
			c.Append([]byte("xy"), func(consumed bool) {
				rel(consumed)
				c.Append([]byte("z"), nil) // allowed: Write or Append from release
			})
			runAll(c.Consume(2, nil))
			if c.Len() != 1 {
				panic("append from release lost")
			}
			runAll(c.Consume(1, nil))
		}, want: outcome{consumed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var c Chain
			c.Init(pool, 64)
			var got outcome
			tc.run(&c, func(consumed bool) {
				if consumed {
					got.consumed++
				} else {
					got.dropped++
				}
			})
			if got != tc.want {
				t.Fatalf("release ran %+v, want %+v", got, tc.want)
			}
			runAll(c.Reset(nil))
			if got != tc.want {
				t.Fatalf("a later Reset ran release again: %+v", got)
			}
			if pool.Outstanding() != 0 {
				t.Fatalf("Outstanding = %d after Reset", pool.Outstanding())
			}
		})
	}
}

func TestChainReleaseWaitsForLastByte(t *testing.T) {
	var c Chain
	released := false
	c.Append([]byte("0123456789"), func(bool) { released = true })
	runAll(c.Consume(9, nil))
	if released {
		t.Fatal("release ran with a byte of the slice still pending")
	}
	runAll(c.Consume(1, nil))
	if !released {
		t.Fatal("release did not run when the last byte was consumed")
	}
}

func TestChainBlocksGoBackAsDrained(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var c Chain
	c.Init(pool, 1024)
	for range 3 {
		c.Write(make([]byte, 1024))
	}
	if got := pool.Outstanding(); got != 3*1024 {
		t.Fatalf("Outstanding = %d with three blocks queued", got)
	}
	runAll(c.Consume(1024+10, nil))
	if got := pool.Outstanding(); got != 2*1024 {
		t.Fatalf("Outstanding = %d after the first block drained, want %d", got, 2*1024)
	}
	runAll(c.Consume(c.Len(), nil))
	if got := pool.Outstanding(); got != 0 {
		t.Fatalf("idle chain holds %d bytes of pool memory, want 0", got)
	}
}

func TestChainBuffersMaxAndAppend(t *testing.T) {
	var c Chain
	c.Init(nil, 64)
	c.WriteString(strings.Repeat("a", 64))
	c.Append([]byte("owned"), nil)
	c.WriteString("tail")
	dst := make([][]byte, 1, 8)
	dst[0] = []byte("already there")
	dst = c.Buffers(dst, 2)
	if len(dst) != 3 || string(dst[0]) != "already there" || len(dst[1]) != 64 || string(dst[2]) != "owned" {
		t.Fatalf("Buffers(dst, 2) = %q", dst)
	}
	if all := c.Buffers(nil, 0); len(all) != 3 || string(all[2]) != "tail" {
		t.Fatalf("Buffers(nil, 0) = %q", all)
	}
	if cap(dst[1]) != len(dst[1]) {
		t.Fatal("a slice from Buffers could be appended into the chain")
	}
}

func TestChainBuffersSurviveWrite(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var c Chain
	c.Init(pool, 64)
	c.WriteString("first bytes")
	iov := c.Buffers(nil, 0)
	// More output queued before the writev finishes must not disturb it.
	c.WriteString(strings.Repeat("more", 40))
	c.Append([]byte("owned"), nil)
	if string(iov[0]) != "first bytes" {
		t.Fatalf("slice from Buffers now reads %q", iov[0])
	}
	runAll(c.Consume(len("first bytes"), nil))
	if !strings.HasPrefix(string(pending(&c)), "moremore") {
		t.Fatal("the chain lost bytes written after Buffers")
	}
	runAll(c.Reset(nil))
}

func TestChainConsumeOutOfRangePanics(t *testing.T) {
	for _, n := range []int{-1, 6} {
		var c Chain
		c.WriteString("12345")
		msg := mustPanic(t, func() { runAll(c.Consume(n, nil)) })
		if !strings.Contains(msg, "Chain.Consume") {
			t.Fatalf("Consume(%d) panic %q does not name the call", n, msg)
		}
	}
}

// runAll runs the release hooks Consume or Reset handed back, in order, as
// the Chain's owner does once it is done with the Chain, and returns rs.
func runAll(rs []Release) []Release {
	for _, r := range rs {
		r.Run()
	}
	return rs
}

package buffer

import (
	"bytes"
	"testing"
)

// TestChainHandsReleasesBack: Consume and Reset run no release hook
// themselves: they hand back every hook they finished, in order, with
// sent true from Consume and false from Reset, and the Chain is whole when
// they return, so a hook that panics cannot leave it half done.
func TestChainHandsReleasesBack(t *testing.T) {
	for _, op := range []string{"Consume", "Reset"} {
		t.Run(op, func(t *testing.T) {
			var c Chain
			c.Init(NewPool(), 0)
			var ran []int
			for i := range 4 {
				c.Append([]byte("abcd"), func(bool) {
					ran = append(ran, i)
					if i == 1 || i == 2 {
						panic(i)
					}
				})
			}
			c.Write([]byte("tail"))
			var rs []Release
			if op == "Consume" {
				rs = c.Consume(16, nil)
			} else {
				rs = c.Reset(nil)
			}
			if len(ran) != 0 {
				t.Fatalf("%s ran releases %v itself", op, ran)
			}
			if len(rs) != 4 {
				t.Fatalf("%s handed back %d releases, want 4", op, len(rs))
			}
			for i, r := range rs {
				if r.Sent() != (op == "Consume") {
					t.Fatalf("release %d: Sent() = %v after %s", i, r.Sent(), op)
				}
			}
			want := 4
			if op == "Reset" {
				want = 0
			}
			if c.Len() != want {
				t.Fatalf("Len = %d after %s, want %d", c.Len(), op, want)
			}
			if op == "Consume" {
				if bufs := c.Buffers(nil, 8); len(bufs) != 1 || string(bufs[0]) != "tail" {
					t.Fatalf("pending %q, want [tail]", bufs)
				}
			}
			// Run them in order; the panicking ones panic with their index.
			for i, r := range rs {
				v := func() (v any) {
					defer func() { v = recover() }()
					r.Run()
					return nil
				}()
				if (i == 1 || i == 2) != (v == i) {
					t.Fatalf("release %d raised %v", i, v)
				}
			}
			if len(ran) != 4 || ran[0] != 0 || ran[3] != 3 {
				t.Fatalf("releases ran %v, want 0 1 2 3", ran)
			}
		})
	}
}

// TestChainReleaseAppendsAfterConsume: hooks run after Consume that append
// to the Chain and then panic leave Len and Buffers in agreement with what
// is left (the appended bytes, in order), so the next writev sends exactly
// those, and the Chain stays usable.
func TestChainReleaseAppendsAfterConsume(t *testing.T) {
	var c Chain
	c.Init(NewPool(), 16)
	var released []string
	c.Write([]byte("head"))
	c.Append([]byte("one"), func(ok bool) {
		released = append(released, "one")
		c.Write([]byte("X"))
		panic("first")
	})
	c.Append([]byte("two"), func(ok bool) {
		released = append(released, "two")
		c.Append([]byte("Y"), nil)
		panic("second")
	})
	c.Write([]byte("tail"))
	for _, r := range c.Consume(4+3+3+2, nil) { // head, one, two, "ta"
		func() {
			defer func() { recover() }()
			r.Run()
		}()
	}
	if len(released) != 2 {
		t.Fatalf("releases run: %v", released)
	}
	var got []byte
	for _, b := range c.Buffers(nil, 0) {
		got = append(got, b...)
	}
	if string(got) != "ilXY" || c.Len() != len(got) {
		t.Fatalf("left %q (Len %d), want %q", got, c.Len(), "ilXY")
	}
	if rs := c.Consume(c.Len(), nil); len(rs) != 0 {
		t.Fatalf("%d releases for slices without one", len(rs))
	}
	if c.Len() != 0 || len(c.Buffers(nil, 0)) != 0 {
		t.Fatalf("not empty after consuming all: Len %d", c.Len())
	}
	c.Write([]byte("again"))
	if b := c.Buffers(nil, 0); len(b) != 1 || !bytes.Equal(b[0], []byte("again")) {
		t.Fatalf("Chain unusable after the panic: %q", b)
	}
}

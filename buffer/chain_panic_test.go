package buffer

import "testing"

// TestChainReleasePanicFinishes: a release that panics inside Consume or
// Reset does not leave the Chain half done: every other release runs,
// the Chain is consistent, and then the first panic is raised again.
func TestChainReleasePanicFinishes(t *testing.T) {
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
			func() {
				defer func() {
					if v := recover(); v != 1 {
						t.Fatalf("%s raised %v, want the first panic (1)", op, v)
					}
				}()
				if op == "Consume" {
					c.Consume(16)
				} else {
					c.Reset()
				}
			}()
			if len(ran) != 4 {
				t.Fatalf("releases run: %v, want all four", ran)
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
		})
	}
}

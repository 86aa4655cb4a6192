package buffer

import (
	"bytes"
	"testing"
)

// TestConsumePanicAppend: releases inside Consume that append to the
// Chain and then panic: Consume finishes every sent node, re-raises the
// first panic, and Len and Buffers agree with what is left (the appended
// bytes, in order) so the next writev sends exactly those.
func TestConsumePanicAppend(t *testing.T) {
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
	func() {
		defer func() {
			if v := recover(); v != "first" {
				t.Fatalf("recovered %v, want the first panic", v)
			}
		}()
		c.Consume(4 + 3 + 3 + 2) // head, one, two, "ta"
	}()
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
	c.Consume(c.Len())
	if c.Len() != 0 || len(c.Buffers(nil, 0)) != 0 {
		t.Fatalf("not empty after consuming all: Len %d", c.Len())
	}
	c.Write([]byte("again"))
	if b := c.Buffers(nil, 0); len(b) != 1 || !bytes.Equal(b[0], []byte("again")) {
		t.Fatalf("Chain unusable after the panic: %q", b)
	}
}

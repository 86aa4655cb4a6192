//go:build linux

package engine

import (
	"bytes"
	"testing"
	"time"
)

// openingHandler does what `open` says in OnOpen of a dialed connection,
// then collects what the connection receives.
type openingHandler struct {
	dialedHandler
	open func(c *Conn)
}

func (h *openingHandler) OnOpen(c *Conn) error {
	h.open(c)
	return nil
}

// TestDialHandover: a completed connect hands its epoll registration to the
// connection (level-triggered), or the connection watches the socket anew
// (edge-triggered), whatever interest OnOpen leaves: reading, nothing
// (paused: the registration is parked, then watched again), or reading and
// writing (a greeting queued in OnOpen). Each dialed connection must then
// carry bytes both ways, and the engine must stop with no fd left (the
// startEngine cleanup checks).
func TestDialHandover(t *testing.T) {
	_, echoAddr := startEngine(t, echoHandler{}, WithShards(1))
	greeting := []byte("greeting from OnOpen|")
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{name: "level", opts: []Option{WithShards(1)}},
		{name: "edge", opts: []Option{WithShards(1), WithEdgeTriggered(true)}},
	} {
		for _, tc := range []struct {
			name   string
			open   func(c *Conn)
			resume bool   // resume reading from a task after the callback
			want   []byte // echoed before the test's own message
		}{
			{name: "reads", open: func(*Conn) {}},
			{name: "paused", open: func(c *Conn) { c.PauseRead() }, resume: true},
			{name: "writes", open: func(c *Conn) { c.Write(greeting) }, want: greeting},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				h := &openingHandler{dialedHandler: dialedHandler{got: make(chan []byte, 16)}, open: tc.open}
				e, _ := startEngine(t, h, mode.opts...)
				r := dialWait(t, e, echoAddr)
				if r.err != nil {
					t.Fatalf("Dial: %v", r.err)
				}
				hd, _ := e.Conn(r.c.ID())
				t.Cleanup(func() { hd.Close() })
				if tc.resume {
					if err := hd.ResumeRead(); err != nil {
						t.Fatal(err)
					}
				}
				msg := []byte("after the handover")
				if err := hd.AsyncWrite(msg, nil); err != nil {
					t.Fatal(err)
				}
				want := append(append([]byte(nil), tc.want...), msg...)
				var got []byte
				for len(got) < len(want) {
					select {
					case b := <-h.got:
						got = append(got, b...)
					case <-time.After(5 * time.Second):
						t.Fatalf("echo: %q so far, want %q", got, want)
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("echo %q, want %q", got, want)
				}
			})
		}
	}
}

package engine

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// frameHandler takes whole frames of a fixed size and checks each (frame i
// is filled with byte i), leaving a frame cut by the end of a read unread.
// With paused set it pauses reading in its first callback and reports
// where that left the connection, so that the test can have the rest of
// the stream wait in the socket before reading resumes.
type frameHandler struct {
	BaseHandler
	frame   int
	most    atomic.Int64    // the most bytes a callback saw buffered on entry
	paused  chan frameState // the first callback's state, once; nil: no pause
	seen    chan int        // Buffered() on entry of every callback after the first
	done    chan error      // the frames' check, once all expected arrived
	want    int             // frames expected in all
	got     int             // loop only
	started bool            // loop only
}

// frameState is where the first callback left the connection.
type frameState struct {
	id       uint64
	fd       int
	consumed int // frames taken
	left     int // bytes left unread
}

func (h *frameHandler) OnTraffic(c *Conn) {
	if n := int64(c.Buffered()); n > h.most.Load() {
		h.most.Store(n)
	}
	if h.started {
		h.seen <- c.Buffered()
	}
	for c.Buffered() >= h.frame {
		b, _ := c.Next(h.frame)
		for j, x := range b {
			if x != byte(h.got) {
				h.done <- fmt.Errorf("frame %d byte %d is %d, want %d", h.got, j, x, byte(h.got))
				c.Abort()
				return
			}
		}
		h.got++
		if h.got == h.want {
			h.done <- nil
		}
	}
	if !h.started && h.paused != nil {
		h.started = true
		c.PauseRead()
		h.paused <- frameState{id: c.ID(), fd: c.Fd(), consumed: h.got, left: c.Buffered()}
	}
}

// TestReadBehindLeftover: bytes a handler leaves unread (a frame cut by
// the end of a read) go in front of the shard's read buffer and the next
// read lands behind them, so a stream of frames whose ends do not fall on
// read boundaries is still read a whole buffer at a time, as long as what
// is left is at most half the buffer; more than that stays in the
// connection's ring and is read into it. Every frame arrives whole and in
// order either way.
func TestReadBehindLeftover(t *testing.T) {
	tests := []struct {
		name    string
		readBuf int // WithReadBufferSize; 0: the default
		frame   int
		frames  int
		behind  bool // the leftover is at most half the buffer: the read lands behind it
	}{
		{name: "rpc answers, default buffer", frame: 4112, frames: 16, behind: true},
		{name: "rpc answers, 16 KiB buffer", readBuf: 16 << 10, frame: 4112, frames: 16, behind: true},
		{name: "frames larger than the buffer", readBuf: 8 << 10, frame: 12 << 10, frames: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &frameHandler{frame: tc.frame, want: tc.frames,
				paused: make(chan frameState, 1), seen: make(chan int, 4096), done: make(chan error, 2)}
			opts := []Option{WithShards(1)}
			readBuf := 64 << 10
			if tc.readBuf > 0 {
				opts = append(opts, WithReadBufferSize(tc.readBuf))
				readBuf = tc.readBuf
			}
			e, addr := startEngine(t, h, opts...)
			nc := dialT(t, "tcp", addr)
			stream := make([]byte, 0, tc.frame*tc.frames)
			for i := range tc.frames {
				for range tc.frame {
					stream = append(stream, byte(i))
				}
			}
			first := tc.frame + tc.frame/2
			if _, err := nc.Write(stream[:first]); err != nil {
				t.Fatal(err)
			}
			var st frameState
			select {
			case st = <-h.paused:
			case <-time.After(5 * time.Second):
				t.Fatal("no first callback")
			}
			if _, err := nc.Write(stream[first:]); err != nil {
				t.Fatal(err)
			}
			// Wait until the whole rest is in the server's socket.
			rest := len(stream) - st.consumed*tc.frame - st.left
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := unix.IoctlGetInt(st.fd, unix.SIOCINQ)
				if err != nil {
					t.Fatal(err)
				}
				if n == rest {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server's socket holds %d bytes, want %d", n, rest)
				}
				time.Sleep(time.Millisecond)
			}
			hd, ok := e.Conn(st.id)
			if !ok {
				t.Fatal("the connection is gone")
			}
			if err := hd.Do(func(c *Conn) { c.ResumeRead() }); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-h.done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not every frame arrived")
			}
			next := <-h.seen
			if tc.behind {
				if st.left > readBuf/2 {
					t.Fatalf("the first callback left %d bytes, more than half the %d B buffer: the case does not test what it says", st.left, readBuf)
				}
				if want := min(st.left+rest, readBuf); next != want {
					t.Errorf("first callback after the pause saw %d bytes (%d left + one read), want %d: the read did not fill the buffer behind what was left", next, st.left, want)
				}
			} else if st.left <= readBuf/2 {
				t.Fatalf("the first callback left %d bytes, at most half the %d B buffer: the case does not test the ring", st.left, readBuf)
			}
			t.Logf("left %d of %d B after the first callback; the next saw %d B", st.left, first, next)
		})
	}
}

// TestTLSReadBehindLeftover: the same for a TLS connection, whose records
// are decrypted into the shard's plaintext buffer behind what the handler
// left unread. A Go client sends 16 frames of 4,112 B in full 16 KiB
// records: every record after the first ends a frame short, so a callback
// that sees the leftover and a whole record's plaintext (more than a
// record) shows the record was decrypted behind it, not into the ring's
// free run. Every frame arrives whole and in order.
func TestTLSReadBehindLeftover(t *testing.T) {
	const frame, frames = 4112, 16
	pki := newTestPKI(t)
	h := &frameHandler{frame: frame, want: frames, seen: make(chan int, 4096), done: make(chan error, 2)}
	_, addr, _ := startTLS(t, h, pki.server(), WithShards(1))
	cfg := pki.client(tls.VersionTLS13)
	cfg.DynamicRecordSizingDisabled = true
	tc := dialTLS(t, addr, cfg)
	stream := make([]byte, 0, frame*frames)
	for i := range frames {
		for range frame {
			stream = append(stream, byte(i))
		}
	}
	if _, err := tc.Write(stream); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not every frame arrived")
	}
	if most := h.most.Load(); most <= 16<<10 {
		t.Errorf("no callback saw more than one record's plaintext (at most %d B): records were not decrypted behind the leftover", most)
	}
}

package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// waterHandler gives each connection its own watermarks. On "go" it queues
// big bytes the peer does not read yet; every other byte it counts, so the
// test sees whether reading went on.
type waterHandler struct {
	BaseHandler
	mode            WaterMode
	big             []byte
	high, low, seen atomic.Int32
	// engineWide leaves the marks to WithWatermarks and WithWaterMode, and
	// sends what Conn.Watermarks reports in OnOpen to marks.
	engineWide bool
	marks      chan [3]int
}

func (h *waterHandler) OnOpen(c *Conn) error {
	if h.engineWide {
		low, high, mode := c.Watermarks()
		h.marks <- [3]int{low, high, int(mode)}
		return nil
	}
	return c.SetWatermarks(4<<10, 64<<10, h.mode)
}

func (h *waterHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	for _, x := range b {
		if x == 'g' {
			c.Write(h.big)
		} else {
			h.seen.Add(1)
		}
	}
}

func (h *waterHandler) OnHighWater(*Conn) { h.high.Add(1) }
func (h *waterHandler) OnLowWater(*Conn)  { h.low.Add(1) }

// TestSetWatermarks: a connection's own watermarks. In WaterNotify mode,
// output past the high mark calls OnHighWater once, reading goes on, and
// once the peer has read it down to the low mark OnLowWater runs once;
// in WaterPause mode reading stops until then and no notice is sent.
// Every byte arrives either way.
func TestSetWatermarks(t *testing.T) {
	tests := []struct {
		name      string
		mode      WaterMode
		readsGoOn bool
		notices   int32
	}{
		{name: "notify", mode: WaterNotify, readsGoOn: true, notices: 1},
		{name: "pause", mode: WaterPause, readsGoOn: false, notices: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &waterHandler{mode: tc.mode, big: bytes.Repeat([]byte("w"), 4<<20)}
			_, addr := startEngine(t, h, WithShards(1), WithSocketBuffers(64<<10, 0))
			nc := dialT(t, "tcp", addr)
			nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			if _, err := nc.Write([]byte("g")); err != nil {
				t.Fatal(err)
			}
			// 4 MiB cannot fit in the two socket buffers: most of it
			// stays queued, past the 64 KiB high mark.
			time.Sleep(200 * time.Millisecond)
			if _, err := nc.Write([]byte("xyz")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if got := h.seen.Load() == 3; got != tc.readsGoOn {
				t.Fatalf("bytes read while above the high mark: %d (reading went on: %v, want %v)", h.seen.Load(), got, tc.readsGoOn)
			}
			if got := h.high.Load(); got != tc.notices {
				t.Fatalf("OnHighWater ran %d times, want %d", got, tc.notices)
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(h.big))
			if _, err := io.ReadFull(nc, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, h.big) {
				t.Fatal("output corrupted")
			}
			if !waitFor(2*time.Second, func() bool { return h.low.Load() == tc.notices && h.seen.Load() == 3 }) {
				t.Fatalf("after draining: OnLowWater %d (want %d), bytes read %d (want 3)", h.low.Load(), tc.notices, h.seen.Load())
			}
		})
	}
}

// TestWithWaterMode: the engine-wide marks in either mode behave as a
// connection's own (TestSetWatermarks) without SetWatermarks, and
// Conn.Watermarks reports them; a mode that does not exist is refused.
func TestWithWaterMode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      WaterMode
		readsGoOn bool
		notices   int32
	}{
		{name: "notify", mode: WaterNotify, readsGoOn: true, notices: 1},
		{name: "pause", mode: WaterPause, readsGoOn: false, notices: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &waterHandler{engineWide: true, marks: make(chan [3]int, 1), big: bytes.Repeat([]byte("w"), 4<<20)}
			_, addr := startEngine(t, h, WithShards(1), WithSocketBuffers(64<<10, 0),
				WithWatermarks(4<<10, 64<<10), WithWaterMode(tc.mode))
			nc := dialT(t, "tcp", addr)
			nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			if m := <-h.marks; m != [3]int{4 << 10, 64 << 10, int(tc.mode)} {
				t.Fatalf("Watermarks() = %v, want [4096 65536 %d]", m, tc.mode)
			}
			if _, err := nc.Write([]byte("g")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if _, err := nc.Write([]byte("xyz")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if got := h.seen.Load() == 3; got != tc.readsGoOn {
				t.Fatalf("bytes read while above the high mark: %d (reading went on: %v, want %v)", h.seen.Load(), got, tc.readsGoOn)
			}
			if got := h.high.Load(); got != tc.notices {
				t.Fatalf("OnHighWater ran %d times, want %d", got, tc.notices)
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(h.big))
			if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, h.big) {
				t.Fatalf("big reply: %v (equal %v)", err, bytes.Equal(got, h.big))
			}
			if !waitFor(2*time.Second, func() bool { return h.low.Load() == tc.notices && h.seen.Load() == 3 }) {
				t.Fatalf("after draining: OnLowWater %d (want %d), bytes read %d (want 3)", h.low.Load(), tc.notices, h.seen.Load())
			}
		})
	}
	if _, err := New(BaseHandler{}, WithWaterMode(WaterNotify+1)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("WithWaterMode(%d): %v, want ErrInvalidOption", WaterNotify+1, err)
	}
}

func TestSetWatermarksInvalid(t *testing.T) {
	errc := make(chan error, 1)
	h := &onOpenFunc{fn: func(c *Conn) error {
		errc <- c.SetWatermarks(10, 5, WaterNotify)
		return nil
	}}
	_, addr := startEngine(t, h, WithShards(1))
	dialT(t, "tcp", addr)
	if err := <-errc; !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("SetWatermarks(10, 5) = %v, want ErrInvalidOption", err)
	}
}

// onOpenFunc runs fn in OnOpen and records the close reason.
type onOpenFunc struct {
	BaseHandler
	fn     func(*Conn) error
	closed chan error
}

func (h *onOpenFunc) OnOpen(c *Conn) error { return h.fn(c) }

func (h *onOpenFunc) OnClose(_ *Conn, err error) {
	if h.closed != nil {
		h.closed <- err
	}
}

// TestSetIdleTimeout: a connection's own inactivity timeout. Reads push it
// back; writes push it back only when asked to (here a heartbeat writes a
// byte every 20 ms); without traffic the connection closes with a timeout
// error, while a connection that keeps sending stays open.
func TestSetIdleTimeout(t *testing.T) {
	// The cases that must stay open get a longer timeout: they fail on any
	// stall longer than it (of the pinging goroutine, or of the shard
	// between heartbeats), and a loaded machine running -race stalls for
	// more than 150 ms now and then.
	tests := []struct {
		name       string
		idle       time.Duration
		writes     bool // writes push the timeout back
		clientPing bool // the client sends a byte every 40 ms
		closes     bool
	}{
		{name: "silent peer, writes do not count", idle: 150 * time.Millisecond, writes: false, closes: true},
		{name: "silent peer, writes count", idle: 500 * time.Millisecond, writes: true, closes: false},
		{name: "talking peer", idle: 500 * time.Millisecond, writes: false, clientPing: true, closes: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idle := tc.idle
			h := &onOpenFunc{closed: make(chan error, 1), fn: func(c *Conn) error {
				c.SetIdleTimeout(idle, tc.writes)
				return nil
			}}
			_, addr := startEngine(t, h, WithShards(1),
				WithHeartbeat(20*time.Millisecond, func(c *Conn) { c.Write([]byte{'.'}) }))
			nc := dialT(t, "tcp", addr)
			go io.Copy(io.Discard, nc)
			watch := 3 * idle // three timeouts' worth of staying open
			if tc.closes {
				watch = 6 * idle // time for a late timer on a loaded machine
			}
			deadline := time.After(watch)
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case err := <-h.closed:
					if !tc.closes {
						t.Fatalf("closed: %v; want it open", err)
					}
					if !errors.Is(err, ErrTimeout) {
						t.Fatalf("close reason %v, want ErrTimeout", err)
					}
					return
				case <-tick.C:
					if tc.clientPing {
						nc.Write([]byte{'p'})
					}
				case <-deadline:
					if tc.closes {
						t.Fatalf("still open after %v with a %v idle timeout", watch, idle)
					}
					return
				}
			}
		})
	}
}

// TestSetIdleTimeoutWaitsWhilePaused: a timeout that only reads push back
// does not fire while the handler has paused reading, and counts again
// from ResumeRead.
func TestSetIdleTimeoutWaitsWhilePaused(t *testing.T) {
	const idle = 100 * time.Millisecond
	h := &onOpenFunc{closed: make(chan error, 1), fn: func(c *Conn) error {
		c.SetIdleTimeout(idle, false)
		c.PauseRead()
		return nil
	}}
	e, addr := startEngine(t, h, WithShards(1))
	dialT(t, "tcp", addr)
	select {
	case err := <-h.closed:
		t.Fatalf("closed while reading was paused: %v", err)
	case <-time.After(5 * idle):
	}
	var id uint64
	for _, s := range e.shards {
		for _, c := range s.snapshot() {
			id = c.ID()
		}
	}
	hd, ok := e.Conn(id)
	if !ok {
		t.Fatal("connection not found")
	}
	resumed := time.Now()
	if err := hd.Do(func(c *Conn) { c.ResumeRead() }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.closed:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("close reason %v, want ErrTimeout", err)
		}
		if waited := time.Since(resumed); waited < idle/2 {
			t.Fatalf("closed %v after ResumeRead; the timeout should count from it", waited)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no idle timeout after ResumeRead")
	}
}

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The fault tests of the reliability issue: peers that reset, churn,
// half-close and never read, drip one byte at a time, or close their
// window. Each runs against a live engine whose cleanup checks that no fd is
// left (startEngine) and whose package checks that no goroutine is
// (goleak in TestMain), and each ends by checking that every shard still
// answers.

// faultHandler echoes, except that a message starting with 'W' makes it
// write 1 MiB back, so a peer can reset while the server is mid-write. It
// counts close reasons and panics nothing.
type faultHandler struct {
	BaseHandler
	mu      sync.Mutex
	reasons map[string]int
	closed  atomic.Int64
}

func (h *faultHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if len(b) > 0 && b[0] == 'W' {
		c.Write(make([]byte, 1<<20))
		return
	}
	c.Write(b)
}

func (h *faultHandler) OnClose(c *Conn, reason error) {
	key := "nil"
	switch {
	case reason == nil:
	case errors.Is(reason, syscall.ECONNRESET):
		key = "reset"
	case errors.Is(reason, syscall.EPIPE):
		key = "pipe"
	case errors.Is(reason, ErrPeerClosed):
		key = "peer"
	case errors.Is(reason, ErrTimeout):
		key = "timeout"
	default:
		key = reason.Error()
	}
	h.mu.Lock()
	if h.reasons == nil {
		h.reasons = map[string]int{}
	}
	h.reasons[key]++
	h.mu.Unlock()
	h.closed.Add(1)
}

// assertShardsAnswer opens connections until every shard has served one
// echo round trip (round-robin spreads them), proving no shard is wedged.
func assertShardsAnswer(t *testing.T, e *Engine, addr string) {
	t.Helper()
	for i := 0; i < 2*e.Shards(); i++ {
		nc := dialT(t, "tcp", addr)
		msg := []byte(fmt.Sprintf("still-alive-%d", i))
		got, err := roundTrip(nc, msg, 5*time.Second)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("shard check %d: %q, %v", i, got, err)
		}
		nc.Close()
	}
}

// noLeaks checks, after the test's engine has stopped (cleanups run last
// first, so this one, registered first, runs after Stop), that the test
// left no goroutine behind.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// resetClose closes nc with SO_LINGER 0: the server sees a reset.
func resetClose(t *testing.T, nc net.Conn) {
	t.Helper()
	if err := nc.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestPeersResetMidReadAndMidWrite(t *testing.T) {
	noLeaks(t)
	h := &faultHandler{}
	e, addr := startEngine(t, h, WithShards(2))
	const cycles = 2000
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < cycles; i += 8 {
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					errc <- err
					return
				}
				if i%2 == 0 {
					// Mid-write: ask for 1 MiB, read a little of it,
					// reset while the server still has most queued.
					nc.Write([]byte("W"))
					nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					io.ReadFull(nc, make([]byte, 1024))
				} else {
					// Mid-read: send part of a message and reset.
					nc.Write([]byte("partial message with no end"))
				}
				resetClose(t, nc)
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("dial: %v", err)
	}
	if !waitFor(20*time.Second, func() bool { return e.Conns() == 0 }) {
		t.Fatalf("%d connections still open after every peer reset", e.Conns())
	}
	if got := h.closed.Load(); got != cycles {
		t.Fatalf("OnClose ran %d times for %d connections", got, cycles)
	}
	h.mu.Lock()
	t.Logf("close reasons: %v", h.reasons)
	h.mu.Unlock()
	assertShardsAnswer(t, e, addr)
}

func TestConnectCloseChurn(t *testing.T) {
	noLeaks(t)
	cycles := 50000
	if testing.Short() {
		cycles = 5000
	}
	h := &faultHandler{}
	e, addr := startEngine(t, h, WithShards(2))
	var wg sync.WaitGroup
	var failed atomic.Int64
	var lastErr atomic.Value
	const workers = 8
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < cycles; i += workers {
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				nc.Close()
			}
		}(g)
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d connects failed, last: %v", n, cycles, lastErr.Load())
	}
	if !waitFor(30*time.Second, func() bool { return e.Conns() == 0 && h.closed.Load() == int64(cycles) }) {
		t.Fatalf("after %d connect/close cycles: %d open, %d OnClose", cycles, e.Conns(), h.closed.Load())
	}
	var opened, closed uint64
	for _, s := range e.Stats().Shards {
		opened += s.Opened
		closed += s.Closed
	}
	if opened != uint64(cycles) || closed != uint64(cycles) {
		t.Fatalf("stats: opened %d closed %d, want %d each", opened, closed, cycles)
	}
	assertShardsAnswer(t, e, addr)
}

func TestHalfClosedPeerThatNeverReads(t *testing.T) {
	noLeaks(t)
	// The peer asks for 1 MiB, half-closes, and never reads: the server's
	// graceful close cannot finish, and the idle timeout must end it and
	// free what was queued.
	h := &faultHandler{}
	e, addr := startEngine(t, h, WithShards(2), WithIdleTimeout(500*time.Millisecond),
		WithSocketBuffers(16<<10, 16<<10))
	var peers []net.Conn
	for i := 0; i < 20; i++ {
		nc := dialT(t, "tcp", addr)
		nc.(*net.TCPConn).SetReadBuffer(16 << 10)
		nc.Write([]byte("W"))
		nc.(*net.TCPConn).CloseWrite()
		peers = append(peers, nc)
	}
	if !waitFor(10*time.Second, func() bool { return h.closed.Load() == 20 }) {
		t.Fatalf("%d of 20 never-reading half-closed peers closed", h.closed.Load())
	}
	h.mu.Lock()
	timeouts := h.reasons["timeout"]
	h.mu.Unlock()
	if timeouts != 20 {
		t.Fatalf("close reasons %v, want 20 timeouts", h.reasons)
	}
	for _, s := range e.Stats().Shards {
		if s.QueuedBytes != 0 {
			t.Fatalf("shard %d still counts %d queued bytes", s.Shard, s.QueuedBytes)
		}
	}
	_ = peers
	assertShardsAnswer(t, e, addr)
}

func TestDrippingPeersDoNotStallOthers(t *testing.T) {
	noLeaks(t)
	h := &faultHandler{}
	e, addr := startEngine(t, h, WithShards(1), WithIdleTimeout(2*time.Second))
	const drips, bytesEach = 5, 3
	var wg sync.WaitGroup
	errc := make(chan error, drips)
	for i := 0; i < drips; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				errc <- err
				return
			}
			defer nc.Close()
			// One byte a second: slower than any burst, faster than the
			// idle timeout, so it must be served and kept.
			for j := 0; j < bytesEach; j++ {
				got, err := roundTrip(nc, []byte{byte('a' + j)}, 5*time.Second)
				if err != nil || got[0] != byte('a'+j) {
					errc <- fmt.Errorf("drip byte %d: %q %v", j, got, err)
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	// Meanwhile a fast peer on the same shard keeps getting answers.
	fast := dialT(t, "tcp", addr)
	start := time.Now()
	var n int
	for time.Since(start) < 2*time.Second {
		msg := bytes.Repeat([]byte{'f'}, 512)
		if got, err := roundTrip(fast, msg, 5*time.Second); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("fast peer round trip %d: %v", n, err)
		}
		n++
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("the fast peer got only %d round trips in 2 s beside dripping peers", n)
	}
	assertShardsAnswer(t, e, addr)
}

// windowHandler writes to every connection until the write is refused,
// and sets a write deadline: a peer that never opens its window must be
// cut off by the deadline with memory bounded by the output cap.
type windowHandler struct {
	faultHandler
	chunk  []byte
	flood  int          // how many connections to flood
	opened atomic.Int64 // the later ones (the shard check) are echoed
}

func (h *windowHandler) OnOpen(c *Conn) error {
	if h.opened.Add(1) > int64(h.flood) {
		return nil
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	for {
		if _, err := c.Write(h.chunk); err != nil {
			return nil // ErrOutputFull: the cap holds
		}
	}
}

func TestZeroWindowPeerHitsWriteDeadline(t *testing.T) {
	noLeaks(t)
	const limit = 4 << 20
	h := &windowHandler{chunk: make([]byte, 64<<10), flood: 8}
	e, addr := startEngine(t, h, WithShards(2), WithWatermarks(limit/4, limit/2), WithMaxQueuedOutput(limit),
		WithSocketBuffers(16<<10, 16<<10))
	var peers []net.Conn
	for i := 0; i < 8; i++ {
		nc := dialT(t, "tcp", addr)
		nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		peers = append(peers, nc) // never read
	}
	start := time.Now()
	var peak int64
	if !waitFor(10*time.Second, func() bool {
		var q int64
		for _, s := range e.Stats().Shards {
			q += s.QueuedBytes
		}
		peak = max(peak, q)
		return h.closed.Load() >= 8
	}) {
		t.Fatalf("%d of 8 zero-window peers closed by the write deadline", h.closed.Load())
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("write deadline fired after %v, before its 1 s", el)
	}
	h.mu.Lock()
	timeouts := h.reasons["timeout"]
	h.mu.Unlock()
	if timeouts != 8 {
		t.Fatalf("close reasons %v, want 8 timeouts", h.reasons)
	}
	// 8 peers × the 4 MiB cap is the most the server may have held.
	if peak == 0 || peak > 8*limit {
		t.Fatalf("peak queued output %d bytes, want between 1 and %d", peak, 8*limit)
	}
	_ = peers
	assertShardsAnswer(t, e, addr)
}

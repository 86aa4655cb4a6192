package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Writev with more slices than IOV_MAX is copied and sent, not handed to
// one writev that the kernel refuses (which closed the connection).

type manyVecHandler struct {
	BaseHandler
	res chan error
}

func (h *manyVecHandler) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	bs := make([][]byte, 2000) // > IOV_MAX (1024)
	for i := range bs {
		bs[i] = []byte("abcd")
	}
	_, err := c.Writev(bs) // 8000 bytes >= directWriteMin, nothing queued: direct
	h.res <- err
}

func (h *manyVecHandler) OnClose(c *Conn, reason error) {
	if reason != nil && !errors.Is(reason, ErrPeerClosed) && !errors.Is(reason, ErrLocalClose) {
		h.res <- reason
	}
}

func TestWritevManySlices(t *testing.T) {
	h := &manyVecHandler{res: make(chan error, 4)}
	_, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	nc.Write([]byte("x"))
	if err := <-h.res; err != nil {
		t.Fatalf("Writev of 2000 slices: %v", err)
	}
	nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := io.ReadAll(io.LimitReader(nc, 8000))
	if len(got) != 8000 {
		t.Fatalf("peer got %d of 8000 bytes (err %v)", len(got), err)
	}
}

// Unlisten called from callbacks on two shards at once returns on both:
// no shard waits for another.

type unlistenHandler struct {
	BaseHandler
	opened  chan *Conn
	target  atomic.Pointer[[2]net.Addr]
	arrived atomic.Int32
	done    chan error
}

func (h *unlistenHandler) OnOpen(c *Conn) error { h.opened <- c; return nil }

func (h *unlistenHandler) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	h.arrived.Add(1)
	deadline := time.Now().Add(2 * time.Second)
	for h.arrived.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.done <- c.Engine().Unlisten(h.target.Load()[c.Shard()])
}

func TestUnlistenFromTwoShards(t *testing.T) {
	h := &unlistenHandler{opened: make(chan *Conn, 64), done: make(chan error, 2)}
	e, err := New(h, WithShards(2), WithReusePort(true))
	if err != nil {
		t.Fatal(err)
	}
	a1, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.target.Store(&[2]net.Addr{a1, a2})
	var byShard [2]net.Conn
	var clients []net.Conn
	for i := 0; i < 64 && (byShard[0] == nil || byShard[1] == nil); i++ {
		nc, err := net.Dial("tcp", a1.String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nc)
		c := <-h.opened
		if byShard[c.Shard()] == nil {
			byShard[c.Shard()] = nc
		}
	}
	if byShard[0] == nil || byShard[1] == nil {
		t.Fatal("64 connections, and the kernel put every one on one shard")
	}
	byShard[0].Write([]byte("u"))
	byShard[1].Write([]byte("u"))
	for i := 0; i < 2; i++ {
		select {
		case err := <-h.done:
			if err != nil {
				t.Fatalf("Unlisten: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Unlisten from callbacks on shards 0 and 1 did not return: the shards wait for each other (engine left hung)")
		}
	}
	for _, nc := range clients {
		nc.Close()
	}
	e.Stop(context.Background())
}

// Unlisten racing Stop: both return (Stop waits for the close Unlisten
// started, instead of closing the loop that must run it).

func TestUnlistenRacesStop(t *testing.T) {
	for i := 0; i < 300; i++ {
		e, err := New(BaseHandler{}, WithShards(1))
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.Listen("tcp://127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			<-start
			done <- e.Unlisten(a)
		}()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			e.Stop(context.Background())
		}()
		close(start)
		wg.Wait()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, "Unlisten") {
					t.Log(g)
				}
			}
			t.Fatalf("round %d: Unlisten never returned after racing Stop (its task was dropped by the closed accept loop; the listening fd leaks)", i)
		}
	}
}

// A panic in connection B's release hook, run inside A's flush, is B's:
// A carries on.

type crossPanicHandler struct {
	BaseHandler
	mu     sync.Mutex
	conns  []*Conn
	closed chan [2]any
}

func (h *crossPanicHandler) OnOpen(c *Conn) error {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	return nil
}

func (h *crossPanicHandler) OnTraffic(c *Conn) {
	c.Discard(c.Buffered())
	h.mu.Lock()
	a, b := h.conns[0], h.conns[1]
	h.mu.Unlock()
	if c != a {
		return
	}
	// A's release aborts B; B's release (dropped, false) panics.
	a.WriteOwned([]byte("hello"), func(bool) { b.Abort() })
	b.WriteOwned([]byte("world"), func(bool) { panic("B's hook") })
}

func (h *crossPanicHandler) OnClose(c *Conn, reason error) { h.closed <- [2]any{c.ID(), reason} }

func TestReleasePanicAbortsItsOwner(t *testing.T) {
	h := &crossPanicHandler{closed: make(chan [2]any, 4)}
	_, addr := startEngine(t, h, WithShards(1))
	ncA := dialT(t, "tcp", addr)
	waitFor(time.Second, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.conns) == 1 })
	ncB := dialT(t, "tcp", addr)
	_ = ncB
	waitFor(time.Second, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.conns) == 2 })
	h.mu.Lock()
	idA := h.conns[0].ID()
	h.mu.Unlock()
	ncA.Write([]byte("go"))
	for i := 0; i < 2; i++ {
		select {
		case ev := <-h.closed:
			t.Logf("closed %v: %v", ev[0], ev[1])
			if ev[0] == idA {
				t.Errorf("A (innocent) closed with %v: B's release panic aborted it", ev[1])
			}
		case <-time.After(time.Second):
			return
		}
	}
}

// SetIdleTimeout counts from the call, whether or not the connection had
// its connExtra before.

type idleHandler struct {
	BaseHandler
	water  bool
	opened chan *Conn
	closed chan time.Time
}

func (h *idleHandler) OnOpen(c *Conn) error {
	if h.water {
		c.SetWatermarks(1<<10, 1<<20, WaterPause) // makes connExtra; unrelated to timeouts
	}
	h.opened <- c
	return nil
}
func (h *idleHandler) OnClose(c *Conn, _ error) { h.closed <- time.Now() }

func TestSetIdleTimeoutCountsFromCall(t *testing.T) {
	for _, water := range []bool{false, true} {
		h := &idleHandler{water: water, opened: make(chan *Conn, 1), closed: make(chan time.Time, 1)}
		e, addr := startEngine(t, h, WithShards(1))
		dialT(t, "tcp", addr)
		c := <-h.opened
		hd, _ := e.Conn(c.ID())
		time.Sleep(500 * time.Millisecond)
		set := time.Now()
		hd.Do(func(c *Conn) { c.SetIdleTimeout(300*time.Millisecond, false) })
		select {
		case at := <-h.closed:
			t.Logf("SetWatermarks earlier=%v: closed %v after SetIdleTimeout(300ms)", water, at.Sub(set).Round(time.Millisecond))
		case <-time.After(2 * time.Second):
			t.Fatal("never closed")
		}
	}
}

package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// TestPairsReused runs short connections one after another, then some at
// once, each with its own payload size, so that ended pairs are taken
// again (releasePair, newPair): every client must get its own bytes back
// and its Done must report its own byte counts and a clean end, nothing
// left over from the pair's earlier clients.
func TestPairsReused(t *testing.T) {
	checkFds(t)
	be := startBackend(t, echo)
	var mu sync.Mutex
	done := map[string]Done{}
	p := startProxy(t, WithPool(mustPool(t, []string{be.addr})),
		WithOnDone(func(d Done) { mu.Lock(); done[d.Client] = d; mu.Unlock() }))
	run := func(t *testing.T, i int) (client string, size int) {
		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Error(err)
			return "", 0
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		size = 1 + i*97%4096
		out := bytes.Repeat([]byte{byte(i)}, size)
		if _, err := c.Write(out); err != nil {
			t.Error(err)
			return "", 0
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, out) {
			t.Errorf("client %d: %d bytes back (%v), want its own %d", i, len(got), err, size)
		}
		return c.LocalAddr().String(), size
	}
	want := map[string]int{}
	for i := range 40 {
		client, size := run(t, i)
		want[client] = size
	}
	var wg sync.WaitGroup
	var wmu sync.Mutex
	for i := 40; i < 80; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, size := run(t, i)
			wmu.Lock()
			want[client] = size
			wmu.Unlock()
		}()
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "every pair to end", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	for client, size := range want {
		d, ok := done[client]
		switch {
		case !ok:
			t.Errorf("%s: no Done", client)
		case d.BytesUp != uint64(size) || d.BytesDown != uint64(size):
			t.Errorf("%s: Done says %d up, %d down; want %d each way", client, d.BytesUp, d.BytesDown, size)
		case d.Backend != be.addr:
			t.Errorf("%s: Done names backend %q, want %q", client, d.Backend, be.addr)
		case d.Err != nil && !errors.Is(d.Err, engine.ErrPeerClosed) && !errors.Is(d.Err, engine.ErrLocalClose):
			t.Errorf("%s: ended with %v", client, d.Err)
		}
	}
}

// TestRelayAllocsPerConn counts the process's allocations over many short
// relayed connections (the client and the echo backend in this process
// too): in steady state a relayed connection allocates its two engine
// Conns, and no pair, dial state, closure or timer. The bound leaves room
// for the test's own client and backend goroutines, which use net's
// connections; it fails at the per-connection garbage this package had
// (a pair, its callback, and the dial's options, task, state, timeout
// callback and address: 9 with the Conns).
func TestRelayAllocsPerConn(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items on purpose; make test runs this without it")
	}
	checkFds(t)
	be := startBackend(t, echo)
	p := startProxy(t, WithPool(mustPool(t, []string{be.addr})))
	// allocsPerConn runs n short connections to addr one after another
	// (a byte, the client's half-close, the echo, the close) and returns
	// the allocations per connection; settle waits for the server's side.
	allocsPerConn := func(addr string, n int, settle func()) float64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("x"))
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
			c.Close()
		}
		settle()
		runtime.ReadMemStats(&after)
		return float64(after.Mallocs-before.Mallocs) / float64(n)
	}
	pairsEnded := func() {
		waitFor(t, 5*time.Second, "the pairs to end", func() bool { return p.px.Stats().Active == 0 })
	}
	allocsPerConn(p.addr, 200, pairsEnded) // warm the pools
	perConn := allocsPerConn(p.addr, 500, pairsEnded)
	t.Logf("%.1f allocations per relayed connection, the test's client and backend included", perConn)
	// The client's and backend's side (net.Dial, Accept, the goroutine and
	// its buffers) is measured here alone, by dialing the backend directly.
	alone := allocsPerConn(be.addr, 500, func() {})
	relayed := perConn - alone
	t.Logf("%.1f without the proxy: %.1f per relayed connection are the proxy's", alone, relayed)
	if relayed > 4 {
		t.Fatalf("the proxy allocates %.1f objects per relayed connection, want its two Conns (at most 4 with noise)", relayed)
	}
}

package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/syncbuf"
)

// TestCPUSlots: the semaphore never lets more than its limit hold a slot,
// passes a released slot to a waiter, and serves the ones coming back
// from the peer (again) before new ones, each queue in order.
func TestCPUSlots(t *testing.T) {
	const limit = 2
	cs := newCPUSlots(limit, 1)
	defer cs.stop()
	cs.acquire(false)
	cs.acquire(true)
	if cs.used != limit {
		t.Fatalf("used %d after two acquires, want %d", cs.used, limit)
	}

	// Four waiters, queued in a known order: two new, then two back from
	// the peer.
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	queued := func(n int) bool {
		return waitFor(5*time.Second, func() bool {
			cs.mu.Lock()
			defer cs.mu.Unlock()
			return len(cs.fresh.q)-cs.fresh.head+len(cs.again.q)-cs.again.head == n
		})
	}
	for i, w := range []struct {
		name  string
		again bool
	}{{"fresh1", false}, {"fresh2", false}, {"again1", true}, {"again2", true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs.acquire(w.again)
			mu.Lock()
			order = append(order, w.name)
			mu.Unlock()
		}()
		if !queued(i + 1) {
			t.Fatalf("%s did not queue", w.name)
		}
	}
	for i := 0; i < 4; i++ {
		cs.release(cs.now()) // passes the slot on: used stays at the limit
		if !waitFor(5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == i+1 }) {
			t.Fatalf("release %d woke nobody", i)
		}
		if cs.used != limit {
			t.Fatalf("used %d while waiters took released slots, want %d", cs.used, limit)
		}
	}
	wg.Wait()
	want := []string{"again1", "again2", "fresh1", "fresh2"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("woken in order %v, want %v", order, want)
		}
	}
	cs.release(cs.now())
	cs.release(cs.now())
	if cs.used != 0 {
		t.Fatalf("used %d after every slot was released", cs.used)
	}
}

// newCPUSlots returns slots as New sets them up with WithHandshakeCPU(limit)
// and WithHandshakeShare(share).
func newCPUSlots(limit int, share float64) *cpuSlots {
	cfg := defaultConfig()
	cfg.handshakeCPU, cfg.handshakeShare = limit, share
	cs := &cpuSlots{}
	cs.init(&cfg)
	return cs
}

// TestCPUBudget: once an interval's slot time is spent, a handshake waits
// although a slot is free (counted as deferred), and the timer lets it in
// at a later interval; an overrun is a debt the next intervals pay; the
// first new handshake in line shows as a backlog once it has waited; and
// after stop the timer stays off.
func TestCPUBudget(t *testing.T) {
	cs := newCPUSlots(4, 0.1)
	if cs.budget <= 0 {
		t.Fatalf("budget %v with a share of 0.1", cs.budget)
	}
	// A handshake that held its slot for three intervals' budget.
	took := cs.acquire(false)
	cs.release(took - 3*cs.budget)
	if cs.inBudget() {
		t.Fatalf("in budget after %v spent of %v", cs.spent, cs.budget)
	}
	start := time.Now()
	done := make(chan time.Duration)
	go func() {
		took := cs.acquire(false)
		cs.release(took)
		done <- time.Since(start)
	}()
	if !waitFor(5*time.Second, func() bool { return cs.deferred.Load() == 1 }) {
		t.Fatal("a handshake past the budget was not deferred")
	}
	if !waitFor(5*time.Second, func() bool { return cs.backlogged(0) }) {
		t.Fatal("a deferred new handshake does not show as a backlog")
	}
	if cs.backlogged(time.Hour) {
		t.Fatal("backlogged(1h) after a moment's wait")
	}
	// The debt is three budgets: at least two more intervals pass first.
	if waited := <-done; waited < 2*handshakeInterval {
		t.Fatalf("let in after %v with a debt of three intervals' budget", waited)
	}
	if cs.backlogged(0) {
		t.Fatal("backlog left once the queue is empty")
	}
	if held := time.Duration(cs.held.Load()); held < 3*cs.budget {
		t.Fatalf("held %v, want at least the %v released", held, 3*cs.budget)
	}
	cs.stop()
	cs.mu.Lock()
	cs.arm(cs.now())
	armed := cs.armed
	cs.mu.Unlock()
	if armed {
		t.Fatal("the timer was set after stop")
	}
}

// TestCPUBudgetSlotsFirst: with a share of 1 there is no budget, and the
// slots alone bound the handshakes: a waiter past the limit is not
// counted as deferred.
func TestCPUBudgetSlotsFirst(t *testing.T) {
	cs := newCPUSlots(1, 1)
	defer cs.stop()
	if cs.budget != 0 {
		t.Fatalf("budget %v with a share of 1", cs.budget)
	}
	took := cs.acquire(false)
	got := make(chan struct{})
	go func() { cs.release(cs.acquire(false)); close(got) }()
	if !waitFor(5*time.Second, func() bool { cs.mu.Lock(); defer cs.mu.Unlock(); return cs.fresh.len() == 1 }) {
		t.Fatal("the second handshake did not queue")
	}
	cs.release(took - time.Hour) // no budget: any amount of time is fine
	<-got
	if n := cs.deferred.Load(); n != 0 {
		t.Fatalf("%d deferred without a budget", n)
	}
}

// TestHandshakeShare: with WithHandshakeShare, handshakes whose
// computation (a GetCertificate that burns CPU here) exceeds the share
// are deferred to later intervals (Stats.TLSHandshakesDeferred), all
// still complete, and the time they held their slots is counted
// (Stats.TLSHandshakeCPU). TestCPUBudget checks the wait itself.
func TestHandshakeShare(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		for t0 := time.Now(); time.Since(t0) < 3*time.Millisecond; {
		}
		return &pki.leaf, nil
	}}
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(2), WithHandshakeShare(0.1))
	const clients = 12
	echoTLSClients(t, addr, pki, clients)
	st := e.Stats()
	if st.TLSHandshakes != clients {
		t.Fatalf("Stats.TLSHandshakes = %d, want %d", st.TLSHandshakes, clients)
	}
	if st.TLSHandshakeCPU < clients*3*time.Millisecond {
		t.Fatalf("Stats.TLSHandshakeCPU = %v, under the %v GetCertificate burned", st.TLSHandshakeCPU, clients*3*time.Millisecond)
	}
	if st.TLSHandshakesDeferred == 0 {
		t.Fatal("no handshake was deferred past a share of 0.1")
	}
}

// TestHandshakeCPUCap: with WithHandshakeCPU(n), no more than n
// handshakes compute at once (GetCertificate runs while its handshake
// holds a slot, and takes a while here), every handshake still completes,
// and with n > 1 they do run side by side.
func TestHandshakeCPUCap(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run("n="+string(rune('0'+n)), func(t *testing.T) {
			noLeaks(t)
			pki := newTestPKI(t)
			var now, peak atomic.Int64
			cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				k := now.Add(1)
				for p := peak.Load(); k > p && !peak.CompareAndSwap(p, k); p = peak.Load() {
				}
				time.Sleep(30 * time.Millisecond)
				now.Add(-1)
				return &pki.leaf, nil
			}}
			e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(n))
			const clients = 12
			echoTLSClients(t, addr, pki, clients)
			if p := peak.Load(); p > int64(n) || (n > 1 && p < 2) {
				t.Fatalf("%d handshakes computed at once with WithHandshakeCPU(%d)", p, n)
			}
			if got := e.Stats().TLSHandshakes; got != clients {
				t.Fatalf("Stats.TLSHandshakes = %d, want %d", got, clients)
			}
		})
	}
}

// TestTLSRefusedAtAccept: once WithMaxHandshakes handshakes are in
// progress, a new TLS connection is reset at accept, before it sends a
// byte: counted in Stats.TLSRefused, without a Conn (no OnHandshakeFail);
// a plaintext listener of the same engine is not affected; the refusals
// are logged once (the log is throttled); and once the handshakes in
// progress end, TLS connections are served again.
func TestTLSRefusedAtAccept(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := &floodHandler{}
	var logged syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	e, addr, plainAddr := startTLS(t, h, pki.server(), WithShards(2), WithMaxHandshakes(2),
		WithHandshakeTimeout(time.Minute), WithLogger(logger))
	hello := clientHello(t, pki.client(tls.VersionTLS13))

	// Two handshakes that stop after the server's flight fill the cap.
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != recordTypeHandshake {
			t.Fatalf("held handshake %d: first byte %d, %v", i, b[0], err)
		}
		held = append(held, c)
	}
	if n := e.tlsInFlight.Load(); n != 2 {
		t.Fatalf("%d handshakes in flight, want 2", n)
	}

	// More connections are reset without having sent anything: the
	// reset may even come before the dial has seen its connection
	// established.
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if !isReset(err) {
			t.Fatalf("a connection past the cap: %v, want a reset", err)
		}
	}
	if st := e.Stats(); st.TLSRefused != 3 {
		t.Fatalf("Stats.TLSRefused = %d, want 3", st.TLSRefused)
	}
	// Three refusals are under the batch that pauses the listener.
	if n := e.hsCPU.holds.Load(); n != 0 {
		t.Fatalf("%d pauses after three refusals, want 0 (a batch is %d)", n, tlsRefuseBatch)
	}
	if n := h.refused.Load() + h.failed.Load(); n != 0 {
		t.Fatalf("OnHandshakeFail ran %d times for connections refused at accept", n)
	}
	if out := logged.String(); strings.Count(out, "resetting new TLS connections") != 1 ||
		!strings.Contains(out, "in_flight=2") || !strings.Contains(out, "max_handshakes=2") {
		t.Fatalf("three refusals logged as %q, want one throttled warning with the counts", out)
	}

	// The plaintext listener is not capped.
	pc, err := net.DialTimeout("tcp", plainAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(pc, []byte("plain"), 5*time.Second); err != nil || string(got) != "plain" {
		t.Fatalf("plaintext beside a full TLS cap: %q, %v", got, err)
	}
	pc.Close()

	// The held handshakes end (their peers leave): TLS is served again.
	for _, c := range held {
		c.Close()
	}
	if !waitFor(10*time.Second, func() bool { return e.tlsInFlight.Load() == 0 }) {
		t.Fatalf("%d handshakes in flight after their peers left", e.tlsInFlight.Load())
	}
	healthy(t, addr, pki)
}

// TestTLSRefusedForBacklog: when new handshakes have waited half the
// handshake timeout for the CPU (here a share so small that one
// handshake's computation is a debt of a second), a new TLS connection is
// reset at accept, counted in Stats.TLSRefused, although WithMaxHandshakes
// is far off; and Stop does not wait for the debt.
func TestTLSRefusedForBacklog(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		for t0 := time.Now(); time.Since(t0) < 20*time.Millisecond; {
		}
		return &pki.leaf, nil
	}}
	const timeout = 2 * time.Second
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1),
		WithHandshakeShare(0.001), WithHandshakeTimeout(timeout))
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	makeBacklog(t, e, addr, hello, timeout)
	if n := e.tlsInFlight.Load(); n > 3 {
		t.Fatalf("%d handshakes in flight, want at most 3", n)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if !isReset(err) {
		t.Fatalf("a connection behind a backlog of %v: %v, want a reset", timeout/2, err)
	}
	if st := e.Stats(); st.TLSRefused == 0 || st.TLSHandshakesDeferred == 0 {
		t.Fatalf("Stats.TLSRefused = %d, TLSHandshakesDeferred = %d, want both counted", st.TLSRefused, st.TLSHandshakesDeferred)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The debt left is seconds (the first handshake's 20 ms at a share
	// of 0.001); Stop lifts the budget rather than waiting it out.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop took %v behind the handshakes' CPU debt", d)
	}
}

// echoTLSClients runs n TLS 1.3 clients at once against addr; each
// completes its handshake and one echo, or the test fails.
func echoTLSClients(t *testing.T, addr string, pki *testPKI, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{Timeout: 30 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", addr, pki.client(tls.VersionTLS13))
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			if got, err := roundTrip(c, []byte("hi"), 30*time.Second); err != nil || string(got) != "hi" {
				errc <- errors.Join(err, errors.New("echo: "+string(got)))
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// makeBacklog opens three handshakes to addr, each sending hello, under a
// handshake budget already in debt: the first computes and adds to the
// debt, the others wait for it to be paid while their peers wait for the
// server. It returns once e reads as backlogged (the first in line has
// waited half of timeout); the connections close at the test's end.
func makeBacklog(t *testing.T, e *Engine, addr string, hello []byte, timeout time.Duration) {
	t.Helper()
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(10*time.Second, func() bool { return e.hsCPU.backlogged(timeout / 2) }) {
		t.Fatal("no backlog with a handshake's debt of seconds")
	}
}

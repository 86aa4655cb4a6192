package engine

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSleep stands in for the engine's shards when a test must say
// whether they sleep (cpuSlots.sl).
type fakeSleep struct{ asleep atomic.Bool }

func (f *fakeSleep) shardsSleeping() bool { return f.asleep.Load() }

// busyShards makes e's handshake budget see its shards busy from now on,
// as a server's would be under load, so that the budget binds in a test
// whose shards are in fact mostly idle.
func busyShards(e *Engine) {
	e.hsCPU.mu.Lock()
	e.hsCPU.sl = &fakeSleep{}
	e.hsCPU.mu.Unlock()
}

// TestCPUBudgetIdle: past the budget, a handshake that finds every shard
// asleep takes a free slot at once (not deferred), and the time it holds
// it is not counted against the budget; one that finds a shard busy
// waits, and is let in with a free slot by the interval timer once the
// shards sleep, though the debt is far from paid.
func TestCPUBudgetIdle(t *testing.T) {
	cs := newCPUSlots(2, 0.1)
	defer cs.stop()
	sl := &fakeSleep{}
	took, free := cs.acquire(sl, false)
	if free {
		t.Fatal("a slot within the budget taken as free")
	}
	cs.release(took-time.Hour, free) // a debt of an hour
	spent := func() time.Duration { cs.mu.Lock(); defer cs.mu.Unlock(); return cs.spent }
	debt := spent()

	// Shards busy: the next one waits.
	got := make(chan bool)
	go func() {
		took, free := cs.acquire(sl, false)
		cs.release(took, free)
		got <- free
	}()
	if !waitFor(5*time.Second, func() bool { return cs.deferred.Load() == 1 }) {
		t.Fatal("a handshake past the budget, shards busy, was not deferred")
	}
	select {
	case <-got:
		t.Fatal("let in past the budget while the shards were busy")
	case <-time.After(5 * handshakeInterval):
	}
	// The shards go to sleep: the timer lets it in, free.
	sl.asleep.Store(true)
	select {
	case free := <-got:
		if !free {
			t.Fatal("let in past the budget without a free slot")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting with every shard asleep")
	}

	// Shards asleep: taken at once, free, not deferred, not counted.
	took, free = cs.acquire(sl, false)
	if !free {
		t.Fatal("past the budget with every shard asleep, the slot was not free")
	}
	cs.release(took-time.Second, free)
	if d := cs.deferred.Load(); d != 1 {
		t.Fatalf("deferred %d, want the one held while the shards were busy", d)
	}
	if n := cs.idle.Load(); n != 2 {
		t.Fatalf("%d free slots, want 2", n)
	}
	if s := spent(); s > debt {
		t.Fatalf("spent %v after free slots, want at most the %v before them", s, debt)
	}
}

// TestCPUBudgetIdlePassOn: a slot released past the budget goes to the
// next waiter, free, if the shards sleep, and stays free (to the timer)
// if they do not.
func TestCPUBudgetIdlePassOn(t *testing.T) {
	cs := newCPUSlots(1, 0.1)
	defer cs.stop()
	sl := &fakeSleep{}
	took, _ := cs.acquire(sl, false)
	got := make(chan bool, 1)
	go func() {
		took, free := cs.acquire(sl, false)
		got <- free
		cs.release(took, free)
	}()
	if !waitFor(5*time.Second, func() bool { cs.mu.Lock(); defer cs.mu.Unlock(); return cs.fresh.len() == 1 }) {
		t.Fatal("the second handshake did not queue")
	}
	sl.asleep.Store(true)
	cs.release(took-time.Hour, false) // spends the budget for an hour
	select {
	case free := <-got:
		if !free {
			t.Fatal("a slot passed on past the budget was not free")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slot was not passed on with the shards asleep")
	}
}

// TestHandshakeShareIdle: on an engine whose shards have nothing else to
// do, a share so small that one handshake's computation (20 ms of
// GetCertificate here) is a debt of seconds does not hold the next ones
// back: they take free slots, all complete within the handshake timeout,
// and none is refused.
func TestHandshakeShareIdle(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		for t0 := time.Now(); time.Since(t0) < 20*time.Millisecond; {
		}
		return &pki.leaf, nil
	}}
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1),
		WithHandshakeShare(0.001), WithHandshakeTimeout(3*time.Second))
	const clients = 8
	for i := 0; i < clients; i++ { // one at a time: each finds the shards idle
		healthy(t, addr, pki)
	}
	st := e.Stats()
	if st.TLSHandshakes != clients || st.TLSRefused != 0 {
		t.Fatalf("Stats.TLSHandshakes = %d, TLSRefused = %d, want %d and 0", st.TLSHandshakes, st.TLSRefused, clients)
	}
	if n := e.hsCPU.idle.Load(); n == 0 {
		t.Fatal("no handshake took a free slot past a share of 0.001 on idle shards")
	}
}

// TestTLSHoldOnBacklog: while the handshakes' CPU budget binds (busy
// shards, a share so small that a handshake is a debt of seconds) and
// new handshakes have waited half the handshake timeout, a flood of new
// TLS connections is reset at accept, every one counted in
// Stats.TLSRefused, a batch at a time: after each tlsRefuseBatch resets
// the acceptor stops accepting for a while (holdTLS), and the rest wait in
// the kernel's backlog; the connections already open keep being served
// meanwhile; and once the backlog clears, the listener serves new TLS
// connections again. Stop leaves no goroutine or fd (noLeaks,
// startEngine's fd check).
func TestTLSHoldOnBacklog(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	cfg := &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		for t0 := time.Now(); time.Since(t0) < 20*time.Millisecond; {
		}
		return &pki.leaf, nil
	}}
	const timeout = time.Second
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1),
		WithHandshakeShare(0.001), WithHandshakeTimeout(timeout))

	// Two connections opened while the shards are idle.
	var open []*tls.Conn
	for i := 0; i < 2; i++ {
		c := dialTLS(t, addr, pki.client(tls.VersionTLS13))
		defer c.Close()
		// The echo says the server's side of the handshake is done too.
		if got, err := roundTrip(c, []byte("open"), 5*time.Second); err != nil || string(got) != "open" {
			t.Fatalf("open connection %d: %q, %v", i, got, err)
		}
		open = append(open, c)
	}
	busyShards(e)
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	// Three handshakes that wait behind the debt make the backlog.
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(10*time.Second, func() bool { return e.hsCPU.backlogged(timeout / 2) }) {
		t.Fatal("no backlog with a handshake's debt of seconds")
	}

	// The flood, while the open connections echo.
	const flood = 200
	var wg sync.WaitGroup
	var dialed atomic.Int64
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if isReset(err) {
				dialed.Add(1) // accepted and reset before the dial returned
			}
			if err != nil {
				return // or a SYN the kernel dropped: the backlog was full
			}
			defer c.Close()
			dialed.Add(1)
			c.Write(hello)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			c.Read(make([]byte, 1))
		}()
	}
	for round := 0; round < 20; round++ {
		for i, c := range open {
			if got, err := roundTrip(c, []byte("open"), 5*time.Second); err != nil || string(got) != "open" {
				t.Fatalf("open connection %d during the flood, round %d: %q, %v", i, round, got, err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if !waitFor(10*time.Second, func() bool { return e.Stats().TLSRefused == uint64(dialed.Load()) }) {
		t.Fatalf("Stats.TLSRefused = %d, want every one of the %d flood connections", e.Stats().TLSRefused, dialed.Load())
	}
	refused, holds := e.Stats().TLSRefused, e.hsCPU.holds.Load()
	t.Logf("flood of %d: %d connected, %d reset, %d pauses", flood, dialed.Load(), refused, holds)
	if want := refused / tlsRefuseBatch; holds != want {
		t.Fatalf("%d pauses after %d resets, want one per %d: %d", holds, refused, tlsRefuseBatch, want)
	}

	// The shards are idle again: the backlog drains, and the listener
	// takes new connections once its pause ends.
	e.hsCPU.mu.Lock()
	e.hsCPU.sl = e
	e.hsCPU.mu.Unlock()
	if !waitFor(10*time.Second, func() bool { return !e.hsCPU.backlogged(timeout / 2) }) {
		t.Fatal("the backlog did not clear with the shards idle")
	}
	time.Sleep(2 * maxTLSHold)
	healthy(t, addr, pki)
	for i, c := range open {
		if got, err := roundTrip(c, []byte("after"), 5*time.Second); err != nil || string(got) != "after" {
			t.Fatalf("open connection %d after the flood: %q, %v", i, got, err)
		}
	}
}

// TestNextHold: the acceptor's pauses double while they follow each other
// closely, up to maxTLSHold, and start again from minTLSHold after a gap.
func TestNextHold(t *testing.T) {
	cs := newCPUSlots(1, 1)
	defer cs.stop()
	want := minTLSHold
	for i := 0; i < 10; i++ {
		if d := cs.nextHold(); d != want {
			t.Fatalf("pause %d: %v, want %v", i, d, want)
		}
		want = min(2*want, maxTLSHold)
	}
	// A gap: the last pause ended long ago.
	cs.holdEnd.Store(int64(cs.now() - time.Hour))
	if d := cs.nextHold(); d != minTLSHold {
		t.Fatalf("after a gap: %v, want %v", d, minTLSHold)
	}
}

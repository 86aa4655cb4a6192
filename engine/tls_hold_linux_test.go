package engine

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTLSHoldOnBacklog: while the handshakes' CPU budget binds (a share
// so small that a handshake is a debt of seconds) and new handshakes
// have waited half the handshake timeout, a flood of new
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
		WithHandshakeTimeout(timeout))

	// Two connections opened first, with no budget.
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
	// Then a budget as WithHandshakeShare(0.001) sets it: 20 ms of
	// computation is a debt of seconds.
	e.hsCPU.mu.Lock()
	e.hsCPU.budget = time.Duration(0.001 * float64(handshakeInterval) * float64(runtime.GOMAXPROCS(0)))
	e.hsCPU.mu.Unlock()
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	// Three handshakes that wait behind the debt make the backlog.
	makeBacklog(t, e, addr, hello, timeout)

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

	// The budget is lifted (as Stop does): the backlog drains, and the
	// listener takes new connections once its pause ends.
	e.hsCPU.stop()
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

package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestHSIdleSet: the idle set holds at most its bound, hands the most
// recently parked goroutine the next handshake, and once stopped closes
// every parked hand-off and parks no more.
func TestHSIdleSet(t *testing.T) {
	for _, tc := range []struct{ maxHS, want int }{
		{4096, maxIdleHandshakers},
		{3, 3},
		{0, 0},
	} {
		var hi hsIdle
		hi.init(tc.maxHS)
		if hi.max != tc.want {
			t.Errorf("WithMaxHandshakes(%d): bound %d, want %d", tc.maxHS, hi.max, tc.want)
		}
	}

	var hi hsIdle
	hi.init(2)
	a, b, c := make(chan *tlsConn, 1), make(chan *tlsConn, 1), make(chan *tlsConn, 1)
	if !hi.park(a) || !hi.park(b) {
		t.Fatal("a set of two refused one of its first two goroutines")
	}
	if hi.park(c) {
		t.Fatal("a full set took a third goroutine")
	}
	conn := &tlsConn{}
	if !hi.handOff(conn) {
		t.Fatal("handOff found no parked goroutine")
	}
	select {
	case got := <-b:
		if got != conn {
			t.Fatal("the hand-off carried another connection")
		}
	default:
		t.Fatal("the most recently parked goroutine did not get the handshake")
	}
	if n, reused := hi.idle(); n != 1 || reused != 1 {
		t.Fatalf("after one hand-off: %d parked, %d reused; want 1, 1", n, reused)
	}
	hi.stop()
	if _, ok := <-a; ok {
		t.Fatal("stop left a parked goroutine's hand-off open")
	}
	if hi.park(b) {
		t.Fatal("a stopped set took a goroutine")
	}
	if hi.handOff(conn) {
		t.Fatal("a stopped set handed off a handshake")
	}
}

// TestTLSHandshakeGoroutineReused: one client after another, each
// handshake after the first runs on the goroutine the one before it
// left parked, and every connection works.
func TestTLSHandshakeGoroutineReused(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(1))
	const clients = 5
	for i := 0; i < clients; i++ {
		cl := dialTLS(t, addr, pki.client(tls.VersionTLS13))
		msg := fmt.Sprintf("client %d", i)
		if got, err := roundTrip(cl, []byte(msg), 5*time.Second); err != nil || string(got) != msg {
			t.Fatalf("client %d: %q, %v", i, got, err)
		}
		cl.Close()
		if reason := h.next(t); !errors.Is(reason, ErrPeerClosed) {
			t.Fatalf("client %d: reason %v, want ErrPeerClosed", i, reason)
		}
		// The goroutine parks after posting the handshake's end, so it may
		// still be on its way there when the connection has closed.
		if !waitFor(5*time.Second, func() bool { n, _ := e.hsIdle.idle(); return n == 1 }) {
			n, _ := e.hsIdle.idle()
			t.Fatalf("after client %d: %d goroutines parked, want 1", i, n)
		}
	}
	if _, reused := e.hsIdle.idle(); reused != clients-1 {
		t.Fatalf("%d handshakes ran on a parked goroutine, want %d", reused, clients-1)
	}
	if st := e.Stats(); st.TLSHandshakes != clients {
		t.Fatalf("Stats.TLSHandshakes = %d, want %d", st.TLSHandshakes, clients)
	}
}

// TestTLSHandshakeGoroutineReusedAfterTimeout: handshakes that end by
// the handshake timeout (peers that sent a ClientHello and went quiet)
// leave their goroutines parked in a state that serves the next
// handshakes in full; and Stop ends the parked goroutines (noLeaks).
func TestTLSHandshakeGoroutineReusedAfterTimeout(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(1), WithHandshakeTimeout(300*time.Millisecond))
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	const stalled = 3
	for i := 0; i < stalled; i++ {
		nc := dialT(t, "tcp", addr)
		if _, err := nc.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < stalled; i++ {
		if reason := h.next(t); !errors.Is(reason, ErrTimeout) {
			t.Fatalf("reason %v, want a timeout", reason)
		}
	}
	if !waitFor(5*time.Second, func() bool { n, _ := e.hsIdle.idle(); return n == stalled }) {
		n, _ := e.hsIdle.idle()
		t.Fatalf("%d goroutines parked after %d timed-out handshakes, want %d", n, stalled, stalled)
	}
	for i := 0; i < stalled; i++ {
		cl := dialTLS(t, addr, pki.client(tls.VersionTLS12+uint16(i%2)))
		msg := fmt.Sprintf("after the timeouts %d", i)
		if got, err := roundTrip(cl, []byte(msg), 5*time.Second); err != nil || string(got) != msg {
			t.Fatalf("client %d on a reused goroutine: %q, %v", i, got, err)
		}
		cl.Close()
		if reason := h.next(t); !errors.Is(reason, ErrPeerClosed) {
			t.Fatalf("client %d: reason %v, want ErrPeerClosed", i, reason)
		}
	}
	if _, reused := e.hsIdle.idle(); reused != stalled {
		t.Fatalf("%d handshakes ran on a parked goroutine, want %d", reused, stalled)
	}
	if !waitFor(5*time.Second, func() bool { n, _ := e.hsIdle.idle(); return n == stalled }) {
		t.Fatal("the reused goroutines did not park again")
	}
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.hsIdle.idle(); n != 0 {
		t.Fatalf("%d goroutines parked after Stop", n)
	}
	if e.hsIdle.park(make(chan *tlsConn, 1)) {
		t.Fatal("the idle set takes goroutines after Stop")
	}
}

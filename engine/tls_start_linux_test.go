package engine

import (
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// handshakeGoroutines counts the goroutines running a handshake
// ((*tlsConn).handshake) in this process.
func handshakeGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "engine.(*tlsConn).handshake(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// queuedStarts returns the new handshakes waiting in e's CPU slots' line
// (those whose connection closed included, until the line skips them) and
// the slots taken.
func queuedStarts(e *Engine) (queued, used int) {
	cs := &e.hsCPU
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.fresh.len(), cs.used
}

// blockingCert returns a config whose GetCertificate blocks until the
// returned release is called (its handshake holds its CPU slot
// meanwhile), and a channel that receives once per call.
func blockingCert(pki *testPKI) (cfg *tls.Config, entered <-chan struct{}, release func()) {
	gate := make(chan struct{})
	in := make(chan struct{}, 64)
	var once sync.Once
	cfg = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		select {
		case in <- struct{}{}:
		default: // nobody counts the calls past the first few
		}
		<-gate
		return &pki.leaf, nil
	}}
	return cfg, in, func() { once.Do(func() { close(gate) }) }
}

// TestQueuedStartsHoldNoGoroutine: while the one CPU slot is held (a
// GetCertificate that blocks), the other new handshakes wait in the slots'
// line with no goroutine of their own; once it is let go, each starts in
// turn and completes, and the connections echo.
func TestQueuedStartsHoldNoGoroutine(t *testing.T) {
	noLeaks(t)
	const clients = 20
	pki := newTestPKI(t)
	cfg, entered, release := blockingCert(pki)
	defer release()
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1))
	errs := make(chan error, clients)
	for range clients {
		go func() {
			d := &net.Dialer{Timeout: 10 * time.Second}
			tc, err := tls.DialWithDialer(d, "tcp", addr, pki.client(tls.VersionTLS13))
			if err != nil {
				errs <- err
				return
			}
			defer tc.Close()
			got, err := roundTrip(tc, []byte("ping"), 10*time.Second)
			if err == nil && string(got) != "ping" {
				err = io.ErrUnexpectedEOF
			}
			errs <- err
		}()
	}
	<-entered // the first handshake holds the slot
	if !waitFor(10*time.Second, func() bool { return e.tlsInFlight.Load() == clients }) {
		t.Fatalf("%d handshakes in flight, want %d", e.tlsInFlight.Load(), clients)
	}
	if !waitFor(10*time.Second, func() bool { q, _ := queuedStarts(e); return q == clients-1 }) {
		q, _ := queuedStarts(e)
		t.Fatalf("%d handshakes queued for the slot, want %d", q, clients-1)
	}
	if n := handshakeGoroutines(); n != 1 {
		t.Fatalf("%d handshake goroutines with %d handshakes in flight and one slot, want 1", n, clients)
	}
	release()
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Stats().TLSHandshakes; got != clients {
		t.Fatalf("Stats.TLSHandshakes = %d, want %d", got, clients)
	}
	if q, used := queuedStarts(e); q != 0 || used != 0 {
		t.Fatalf("after the handshakes: %d queued, %d slots taken", q, used)
	}
}

// TestQueuedStartTimesOut: a handshake queued for a CPU slot is still
// bounded by the handshake timeout: its connection closes (counted in
// TLSFailed), gives its place in WithMaxHandshakes back and leaves the
// line with no goroutine ever started for it; a connection past the cap
// meanwhile is refused and counted; once the slot's holder is let go, a
// new handshake gets the slot (none was lost) and completes.
func TestQueuedStartTimesOut(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	cfg, entered, release := blockingCert(pki)
	defer release()
	const timeout = 400 * time.Millisecond
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1),
		WithMaxHandshakes(3), WithHandshakeTimeout(timeout))
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		return c
	}
	dial()
	<-entered // it holds the slot, blocked in GetCertificate
	queued := []net.Conn{dial(), dial()}
	if !waitFor(5*time.Second, func() bool { q, _ := queuedStarts(e); return q == 2 }) {
		q, _ := queuedStarts(e)
		t.Fatalf("%d handshakes queued for the slot, want 2", q)
	}
	// The cap (3) is full: the next connection is refused.
	refused := e.Stats().TLSRefused
	// It may be reset before the dial or the write returns.
	if over, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		over.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := over.Write(hello); err == nil {
			if _, err := io.ReadFull(over, make([]byte, 1)); err == nil {
				t.Fatal("a connection past WithMaxHandshakes got a reply")
			}
		}
		over.Close()
	}
	if got := e.Stats().TLSRefused; got <= refused {
		t.Fatalf("Stats.TLSRefused = %d after a connection past the cap, was %d", got, refused)
	}
	// The timeout closes the queued ones (and the blocked one's
	// connection; its goroutine stays in GetCertificate).
	for i, c := range queued {
		c.SetReadDeadline(time.Now().Add(10 * timeout))
		if _, err := io.ReadAll(c); err != nil && !isReset(err) {
			t.Fatalf("queued connection %d: %v, want its close", i, err)
		}
	}
	if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 1 }) {
		t.Fatalf("%d handshakes in flight after the queued ones timed out, want 1 (the blocked one)", e.tlsInFlight.Load())
	}
	if q, used := queuedStarts(e); q != 0 || used != 1 {
		t.Fatalf("after the timeouts: %d queued, %d slots taken; want 0 and 1", q, used)
	}
	if e.hsCPU.oldest.Load() != 0 {
		t.Fatal("the line reads as waiting (oldest set) with nobody in it")
	}
	if n := handshakeGoroutines(); n != 1 {
		t.Fatalf("%d handshake goroutines, want 1 (the blocked one)", n)
	}
	if got := e.Stats().TLSFailed; got < 3 {
		t.Fatalf("Stats.TLSFailed = %d, want at least the 3 timed out", got)
	}
	release()
	if !waitFor(5*time.Second, func() bool { _, used := queuedStarts(e); return used == 0 && e.tlsInFlight.Load() == 0 }) {
		_, used := queuedStarts(e)
		t.Fatalf("slot taken %d, in flight %d after the blocked handshake ended", used, e.tlsInFlight.Load())
	}
	echoTLSClients(t, addr, pki, 2)
}

// TestTLSAcceptPaced: while the one CPU slot is held, a TLS listener's
// acceptor that finds a backlog of ClientHellos (its loop was held while
// 100 connections came in and sent theirs) takes connections only up
// to the pace's line (tlsPaceLine waiting for a slot) and leaves the rest
// in the kernel's backlog, pausing (paceRest) instead of refusing; once the
// slot is let go, every connection is taken in turn and gets the server's
// flight. One client at a time, with the slot free, is never paced.
func TestTLSAcceptPaced(t *testing.T) {
	noLeaks(t)
	const conns = 100
	pki := newTestPKI(t)
	cfg, entered, release := blockingCert(pki)
	defer release()
	e, addr, _ := startTLS(t, echoHandler{}, cfg, WithShards(2), WithHandshakeCPU(1), WithHandshakeTimeout(time.Minute))
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	first := make(chan error, 1)
	echoOnce := func(errs chan<- error) {
		d := &net.Dialer{Timeout: 20 * time.Second}
		tc, err := tls.DialWithDialer(d, "tcp", addr, pki.client(tls.VersionTLS13))
		if err != nil {
			errs <- err
			return
		}
		defer tc.Close()
		got, err := roundTrip(tc, []byte("ping"), 20*time.Second)
		if err == nil && string(got) != "ping" {
			err = io.ErrUnexpectedEOF
		}
		errs <- err
	}
	go echoOnce(first)
	<-entered // the first handshake holds the slot
	e.mu.Lock()
	acceptLoop := e.acceptLoop
	e.mu.Unlock()
	if acceptLoop == nil {
		t.Fatal("no acceptor loop with two shards")
	}
	free := blockShard(t, &shardCtx{loop: acceptLoop}) // the connections wait in the backlog, ClientHellos sent
	var raw []net.Conn
	for range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, c)
	}
	free()
	if !waitFor(10*time.Second, func() bool { return e.hsCPU.paceRests.Load() > 0 }) {
		t.Fatalf("the acceptor never paused for the pace with a backlog of %d and the slot held", conns)
	}
	time.Sleep(200 * time.Millisecond) // time to overshoot, if it would
	// A window's accepts may be taken before the shards have read the
	// last window's ClientHellos, so the line can overshoot by a line.
	if n := e.tlsInFlight.Load(); n > 2*tlsPaceLine+1 {
		t.Fatalf("%d handshakes in flight with the slot held, want at most %d (the pace's line, twice, and the one computing)",
			n, 2*tlsPaceLine+1)
	}
	if st := e.Stats(); st.TLSRefused != 0 {
		t.Fatalf("Stats.TLSRefused = %d: the pace refused connections instead of leaving them in the backlog", st.TLSRefused)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, c := range raw {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != recordTypeHandshake {
			t.Fatalf("connection %d of the backlog: first byte %d, %v", i, b[0], err)
		}
		c.Close()
	}
	rests := e.hsCPU.paceRests.Load()
	errs := make(chan error, 1)
	for range 5 {
		go echoOnce(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.hsCPU.paceRests.Load(); got != rests {
		t.Fatalf("%d pace pauses for clients one at a time with the slot free", got-rests)
	}
	t.Logf("%d pace pauses for a backlog of %d", rests, conns)
}

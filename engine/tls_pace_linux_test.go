package engine

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

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

// TestTLSAcceptPaced: while the one CPU slot is held, a TLS listener's
// acceptor that finds a backlog of ClientHellos (its loop was held while
// 200 connections came in and sent theirs) takes connections only up
// to the pace's line (tlsPaceLine waiting for a slot) and leaves the rest
// in the kernel's backlog, pausing (paceRest) instead of refusing; once the
// slot is let go, every connection is taken in turn and gets the server's
// flight. One client at a time, with the slot free, is never paced.
func TestTLSAcceptPaced(t *testing.T) { testAcceptPaced(t) }

// TestTLSAcceptPacedOneP is TestTLSAcceptPaced on one P, where the
// acceptor, its shards and the handshakes share the P and the acceptor
// yields it before each pause (paceRest): the pace still engages, and the
// backlog is still worked off in turn. What the yield does to the open
// connections' latency is measured by BenchmarkTLSHandshakeFlood
// (benchmarks/results/tls-16l), not asserted here.
func TestTLSAcceptPacedOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := testAcceptPaced(t)
	if rests := e.hsCPU.paceRests.Load(); rests == 0 {
		t.Fatal("the acceptor never paused for the pace on one P")
	}
}

func testAcceptPaced(t *testing.T) *Engine {
	noLeaks(t)
	const conns = 200
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
	// last windows' ClientHellos and their goroutines have parked for the
	// slot (where the pace counts them), so the line can overshoot: by
	// 33 in one run of many under -race. Far fewer than the backlog is
	// what matters.
	if n := e.tlsInFlight.Load(); n > 3*tlsPaceLine+1 {
		t.Fatalf("%d handshakes in flight with the slot held, want at most %d (the pace's line, three times, and the one computing)",
			n, 3*tlsPaceLine+1)
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
	return e
}

// TestTLSAcceptPacedTransit: with the CPU slot free and no handshake
// waiting, an acceptor whose shards have not polled the connections it
// handed them (held here; on one P, in a flood, the acceptor itself kept
// them off the P: benchmarks/results/tls-16m) takes a backlog only up to
// the pace's line, not all of it in one go; once the shards run, the rest
// is taken though no peer has sent a byte: a connection counts until its
// shard's first poll, not until its ClientHello, so silent peers cannot
// hold the acceptor back. Run on the default Ps and on one.
func TestTLSAcceptPacedTransit(t *testing.T) {
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			if procs > 0 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			}
			testAcceptPacedTransit(t)
		})
	}
}

func testAcceptPacedTransit(t *testing.T) {
	noLeaks(t)
	const conns = 200
	pki := newTestPKI(t)
	e, addr, _ := startTLS(t, echoHandler{}, pki.server(), WithShards(2), WithHandshakeTimeout(time.Minute))
	var frees []func()
	for _, s := range e.shards {
		frees = append(frees, blockShard(t, s))
	}
	for range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if !waitFor(10*time.Second, func() bool { return e.hsCPU.paceRests.Load() > 0 }) {
		t.Fatalf("the acceptor took %d of a backlog of %d without a pause, its shards not polling",
			e.liveTotal.Load(), conns)
	}
	time.Sleep(100 * time.Millisecond) // time to overshoot, if it would
	if n := e.liveTotal.Load(); n > tlsPaceLine {
		t.Fatalf("%d connections taken while the shards did not poll, want at most %d (the pace's line)", n, tlsPaceLine)
	}
	for _, free := range frees {
		free()
	}
	if !waitFor(10*time.Second, func() bool { return e.liveTotal.Load() == conns }) {
		t.Fatalf("%d of %d silent connections taken after the shards ran", e.liveTotal.Load(), conns)
	}
	if !waitFor(5*time.Second, func() bool { return e.hsCPU.transit.Load() == 0 }) {
		t.Fatalf("transit = %d with every connection polled", e.hsCPU.transit.Load())
	}
	if st := e.Stats(); st.TLSRefused != 0 {
		t.Fatalf("Stats.TLSRefused = %d: the pace refused connections instead of leaving them in the backlog", st.TLSRefused)
	}
}

// TestTLSAcceptTransitMaxConns: connections WithMaxConns refuses in the
// hand-off never reach a shard, and leave the pace's transit count at
// once: past the limit nothing stays counted that no shard will poll
// (which would hold the acceptor to the pace for good).
func TestTLSAcceptTransitMaxConns(t *testing.T) {
	noLeaks(t)
	const limit, conns = 5, 20
	pki := newTestPKI(t)
	e, addr, _ := startTLS(t, echoHandler{}, pki.server(), WithShards(2), WithMaxConns(limit), WithHandshakeTimeout(time.Minute))
	for range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if !waitFor(10*time.Second, func() bool { return e.Stats().Refused >= conns-limit }) {
		t.Fatalf("Stats.Refused = %d, want %d past WithMaxConns(%d)", e.Stats().Refused, conns-limit, limit)
	}
	if !waitFor(5*time.Second, func() bool { return e.hsCPU.transit.Load() == 0 }) {
		t.Fatalf("transit = %d with %d connections open and %d refused", e.hsCPU.transit.Load(), limit, conns-limit)
	}
}

package engine

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// clientHello returns the first flight a crypto/tls client sends (its
// ClientHello record), captured over a pipe.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		_ = tls.Client(a, cfg).Handshake() // fails when b closes
	}()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return append(hdr, body...)
}

// holdConn is a net.Conn whose writes can be held back and sent later in
// one write, together with bytes of the test's own.
type holdConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	held []byte
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// healthy checks that a fresh TLS connection still round-trips.
func healthy(t *testing.T, addr string, pki *testPKI) {
	t.Helper()
	cl := dialTLS(t, addr, pki.client(tls.VersionTLS13))
	if got, err := roundTrip(cl, []byte("still fine"), 5*time.Second); err != nil || string(got) != "still fine" {
		t.Fatalf("a healthy connection after the fault: %q, %v", got, err)
	}
	cl.Close()
}

// wantTLSError checks that reason wraps ErrTLS and crypto/tls's error,
// whose text contains want.
func wantTLSError(t *testing.T, reason error, want string) {
	t.Helper()
	if !errors.Is(reason, ErrTLS) || !strings.Contains(reason.Error(), want) {
		t.Fatalf("reason %v: want ErrTLS wrapping crypto/tls's %q", reason, want)
	}
}

func TestTLSBadInput(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, plain := startTLS(t, h, pki.server(), WithShards(2), WithHandshakeTimeout(500*time.Millisecond))

	t.Run("garbage instead of a ClientHello", func(t *testing.T) {
		nc := dialT(t, "tcp", addr)
		nc.Write([]byte("\x00\x01\x02\x03\x04garbage garbage garbage"))
		reason := h.next(t)
		var rh tls.RecordHeaderError
		if !errors.Is(reason, ErrTLS) || !errors.As(reason, &rh) {
			t.Fatalf("reason %v: want ErrTLS wrapping a tls.RecordHeaderError", reason)
		}
	})

	t.Run("plaintext HTTP to the TLS port gets no answer in the clear", func(t *testing.T) {
		nc := dialT(t, "tcp", addr)
		nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		wantTLSError(t, h.next(t), "does not look like a TLS handshake")
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(nc)
		if bytes.Contains(got, []byte("HTTP")) {
			t.Fatalf("answered in the clear: %q", got)
		}
	})

	t.Run("ClientHello a byte at a time", func(t *testing.T) {
		raw := dialT(t, "tcp", addr)
		drip := &dripConn{Conn: raw, e: e, t: t}
		cl := tls.Client(drip, pki.client(tls.VersionTLS13))
		if got, err := roundTrip(cl, []byte("slow"), 10*time.Second); err != nil || string(got) != "slow" {
			t.Fatalf("round trip after a dripped ClientHello: %q, %v", got, err)
		}
		if drip.spent {
			t.Fatal("a handshake goroutine ran before the ClientHello was whole")
		}
		cl.Close()
		if reason := h.next(t); !errors.Is(reason, ErrPeerClosed) {
			t.Fatalf("reason %v, want ErrPeerClosed", reason)
		}
	})

	t.Run("silent peer closed by the handshake timeout, no goroutine", func(t *testing.T) {
		nc := dialT(t, "tcp", addr)
		time.Sleep(100 * time.Millisecond)
		if n := e.tlsInFlight.Load(); n != 0 {
			t.Fatalf("%d handshakes in flight for a silent peer", n)
		}
		reason := h.next(t)
		if !errors.Is(reason, ErrTimeout) {
			t.Fatalf("reason %v, want a timeout", reason)
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the silent peer reads %v, want EOF", err)
		}
	})

	t.Run("stalled handshake closed by the timeout", func(t *testing.T) {
		nc := dialT(t, "tcp", addr)
		nc.Write(clientHello(t, pki.client(tls.VersionTLS13)))
		if reason := h.next(t); !errors.Is(reason, ErrTimeout) {
			t.Fatalf("reason %v, want a timeout", reason)
		}
		if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 0 }) {
			t.Fatal("the stalled handshake's goroutine did not end")
		}
	})

	t.Run("reset mid-handshake", func(t *testing.T) {
		nc := dialT(t, "tcp", addr)
		nc.Write(clientHello(t, pki.client(tls.VersionTLS12)))
		if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 1 }) {
			t.Fatal("the handshake did not start")
		}
		resetClose(t, nc)
		if reason := h.next(t); !errors.Is(reason, syscall.ECONNRESET) {
			t.Fatalf("reason %v, want ECONNRESET", reason)
		}
		if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 0 }) {
			t.Fatal("the reset handshake's goroutine did not end")
		}
	})

	t.Run("reset mid-record", func(t *testing.T) {
		raw := dialT(t, "tcp", addr)
		cl := tls.Client(raw, pki.client(tls.VersionTLS13))
		if _, err := roundTrip(cl, []byte("x"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		raw.Write([]byte{23, 3, 3, 0, 100, 1, 2, 3}) // a record's start
		time.Sleep(50 * time.Millisecond)
		resetClose(t, raw)
		if reason := h.next(t); !errors.Is(reason, syscall.ECONNRESET) {
			t.Fatalf("reason %v, want ECONNRESET", reason)
		}
	})

	t.Run("a record with a bad MAC", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			raw := dialT(t, "tcp", addr)
			cl := tls.Client(raw, pki.client(v))
			if _, err := roundTrip(cl, []byte("x"), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			rec := append([]byte{23, 3, 3, 0, 40}, bytes.Repeat([]byte{0x5a}, 40)...)
			raw.Write(rec)
			// The peer hears the alert, then EOF; the server's close
			// ends when the peer closes in turn.
			cl.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := cl.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "bad record MAC") {
				t.Fatalf("version %x: the client read %v, want the server's bad_record_mac alert", v, err)
			}
			raw.Close()
			wantTLSError(t, h.next(t), "bad record MAC")
		}
	})

	t.Run("bytes after close_notify", func(t *testing.T) {
		raw := dialT(t, "tcp", addr)
		hc := &holdConn{Conn: raw}
		cl := tls.Client(hc, pki.client(tls.VersionTLS13))
		if _, err := roundTrip(cl, []byte("x"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		hc.mu.Lock()
		hc.hold = true
		hc.mu.Unlock()
		cl.CloseWrite()                   // close_notify, held back
		raw.SetWriteDeadline(time.Time{}) // CloseWrite set it to now
		hc.mu.Lock()
		if _, err := raw.Write(append(hc.held, "after the end"...)); err != nil {
			t.Fatal(err)
		}
		hc.mu.Unlock()
		wantTLSError(t, h.next(t), "after close_notify")
	})

	t.Run("too many handshakes: refused at once and counted", func(t *testing.T) {
		// A second engine capped at one handshake in flight.
		h2 := newTLSHandler()
		e2, addr2, _ := startTLS(t, h2, pki.server(), WithMaxHandshakes(1))
		hello := clientHello(t, pki.client(tls.VersionTLS13))
		// Both are accepted below the cap (past it, a connection is reset
		// at accept: TestTLSRefusedAtAccept); the second's ClientHello
		// comes in once the first's handshake runs.
		first := dialT(t, "tcp", addr2)
		second := dialT(t, "tcp", addr2)
		if !waitFor(5*time.Second, func() bool { return e2.liveTotal.Load() == 2 }) {
			t.Fatal("the two connections were not accepted")
		}
		first.Write(hello)
		if !waitFor(5*time.Second, func() bool { return e2.tlsInFlight.Load() == 1 }) {
			t.Fatal("the first handshake did not start")
		}
		second.Write(hello)
		if reason := h2.next(t); !errors.Is(reason, ErrTLSBusy) {
			t.Fatalf("reason %v, want ErrTLSBusy", reason)
		}
		if st := e2.Stats(); st.TLSRefused != 1 {
			t.Fatalf("Stats.TLSRefused = %d, want 1", st.TLSRefused)
		}
		// It counts toward the acceptor's next pause (holdTLS) as a
		// refusal at accept does.
		if n := e2.hsCPU.unheld.Load(); n != 1 {
			t.Fatalf("refusals toward the acceptor's pause = %d, want 1", n)
		}
		first.Close()
		// The peer leaves with the server's flight unread: its kernel
		// resets; were it read, the handshake's EOF would be the reason.
		if reason := h2.next(t); !errors.Is(reason, syscall.ECONNRESET) && !errors.Is(reason, ErrTLS) {
			t.Fatalf("reason %v, want ECONNRESET or ErrTLS (the handshake's peer left)", reason)
		}
		// Its goroutine gives its place back as it ends, just after.
		if !waitFor(5*time.Second, func() bool { return e2.tlsInFlight.Load() == 0 }) {
			t.Fatal("the first handshake's goroutine did not end")
		}
		healthy(t, addr2, pki)
	})

	healthy(t, addr, pki)
	pc := dialT(t, "tcp", plain)
	if got, err := roundTrip(pc, []byte("plain"), 5*time.Second); err != nil || string(got) != "plain" {
		t.Fatalf("the plaintext listener after the faults: %q, %v", got, err)
	}
	if st := e.Stats(); st.TLSFailed != 5 {
		t.Fatalf("Stats.TLSFailed = %d, want the 5 handshakes that failed (garbage, HTTP, silent, stalled, reset)", st.TLSFailed)
	}
}

// dripConn writes its first flight (the ClientHello) a byte at a time,
// checking before the last byte that the engine has spent no goroutine on
// it yet.
type dripConn struct {
	net.Conn
	e     *Engine
	t     *testing.T
	first bool
	spent bool
}

func (d *dripConn) Write(p []byte) (int, error) {
	if d.first {
		return d.Conn.Write(p)
	}
	d.first = true
	for i := range p {
		if i == len(p)-1 && d.e.tlsInFlight.Load() != 0 {
			d.spent = true
		}
		if _, err := d.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		if i%64 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return len(p), nil
}

// TestTLSStopDuringHandshakes: Stop with handshakes in progress (peers
// that sent a ClientHello and went quiet) and silent peers closes them at
// once, wakes every handshake goroutine, and leaves none (noLeaks) and no
// fd (startEngine's cleanup).
func TestTLSStopDuringHandshakes(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(2))
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	for i := 0; i < 10; i++ {
		nc := dialT(t, "tcp", addr)
		if i%2 == 0 {
			nc.Write(hello)
		}
	}
	if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 5 }) {
		t.Fatalf("%d handshakes in flight, want 5", e.tlsInFlight.Load())
	}
	start := time.Now()
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Stop took %v with handshakes in progress", d)
	}
	for i := 0; i < 10; i++ {
		if reason := h.next(t); !errors.Is(reason, ErrEngineStopped) {
			t.Fatalf("reason %v, want ErrEngineStopped", reason)
		}
	}
	if n := e.tlsInFlight.Load(); n != 0 {
		t.Fatalf("%d handshakes in flight after Stop", n)
	}
}

// TestTLSConcurrentHandshakesOverTheCap: many clients at once against a
// small cap; every connection either completes a round trip or is refused
// and counted, and the engine serves on afterwards.
func TestTLSConcurrentHandshakesOverTheCap(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(2), WithMaxHandshakes(8))
	const clients = 150
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{Timeout: 5 * time.Second}
			cl, err := tls.DialWithDialer(d, "tcp", addr, pki.client(tls.VersionTLS13))
			if err != nil {
				failed.Add(1)
				return
			}
			defer cl.Close()
			if got, err := roundTrip(cl, []byte("hi"), 10*time.Second); err != nil || string(got) != "hi" {
				failed.Add(1)
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	st := e.Stats()
	t.Logf("%d served, %d refused (Stats.TLSRefused %d)", ok.Load(), failed.Load(), st.TLSRefused)
	if ok.Load()+failed.Load() != clients || ok.Load() == 0 {
		t.Fatalf("%d served + %d failed of %d", ok.Load(), failed.Load(), clients)
	}
	if int64(st.TLSRefused) != failed.Load() {
		t.Fatalf("Stats.TLSRefused = %d, but %d clients failed", st.TLSRefused, failed.Load())
	}
	if int64(st.TLSHandshakes) != ok.Load() {
		t.Fatalf("Stats.TLSHandshakes = %d, but %d clients were served", st.TLSHandshakes, ok.Load())
	}
	if !waitFor(5*time.Second, func() bool { return e.tlsInFlight.Load() == 0 }) {
		t.Fatal("handshake goroutines did not end")
	}
	healthy(t, addr, pki)
}

// TestTLSHandshakeHoldsInput: bytes that come behind a ClientHello while
// the handshake is busy are buffered up to holdHandshakeInput, and the
// rest waits in the kernel, not in memory, without closing the connection.
func TestTLSHandshakeHoldsInput(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	release := make(chan struct{})
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		<-release // a slow certificate store
		return &pki.leaf, nil
	}}
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, cfg, WithShards(1), WithHandshakeTimeout(2*time.Second))
	released := false
	t.Cleanup(func() { // before Stop, which waits for the handshake's goroutine
		if !released {
			close(release)
		}
	})
	nc := dialT(t, "tcp", addr)
	hello := clientHello(t, pki.client(tls.VersionTLS13))
	go nc.Write(append(hello, make([]byte, 4<<20)...)) // blocks once the windows are full
	if !waitFor(5*time.Second, func() bool { return e.Stats().Shards[0].BytesIn >= holdHandshakeInput }) {
		t.Fatalf("the server read %d bytes", e.Stats().Shards[0].BytesIn)
	}
	time.Sleep(100 * time.Millisecond)
	if in := e.Stats().Shards[0].BytesIn; in > holdHandshakeInput+uint64(len(hello))+64<<10 {
		t.Fatalf("the server read %d bytes behind a handshake in progress, want about %d", in, holdHandshakeInput)
	}
	if e.Conns() != 1 {
		t.Fatal("the connection closed while its handshake held input")
	}
	close(release)
	released = true
	// The zeros behind the ClientHello are no TLS record: the handshake
	// fails on them, with crypto/tls's error.
	if reason := h.next(t); !errors.Is(reason, ErrTLS) {
		t.Fatalf("reason %v, want ErrTLS", reason)
	}
}

// TestTLSDataRightBehindTheHandshake: clients that stream as soon as
// their handshake returns (their data races the server's end of the
// handshake) all get their echo back.
func TestTLSDataRightBehindTheHandshake(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	e, addr, _ := startTLS(t, h, pki.server(), WithShards(2))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := tls.Dial("tcp", addr, pki.client(tls.VersionTLS13))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
			go cl.Write(payload)
			cl.SetReadDeadline(time.Now().Add(30 * time.Second))
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(cl, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, payload) {
				errs <- errors.New("echo differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := e.Stats(); st.TLSFailed != 0 {
		t.Fatalf("Stats.TLSFailed = %d", st.TLSFailed)
	}
}

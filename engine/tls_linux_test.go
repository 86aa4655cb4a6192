package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
)

// tlsHandler echoes plaintext and records what the engine tells it: the
// TLS state seen in OnOpen, close reasons, and handshakes that failed.
type tlsHandler struct {
	BaseHandler
	mu       sync.Mutex
	states   []tls.ConnectionState
	reasons  []error
	failures []error
	closed   chan error // every close or handshake failure, in order
}

func newTLSHandler() *tlsHandler { return &tlsHandler{closed: make(chan error, 1024)} }

func (h *tlsHandler) OnOpen(c *Conn) error {
	st, ok := c.TLS()
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok {
		h.states = append(h.states, st)
	}
	return nil
}

func (h *tlsHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}

func (h *tlsHandler) OnClose(c *Conn, reason error) {
	h.mu.Lock()
	h.reasons = append(h.reasons, reason)
	h.mu.Unlock()
	h.closed <- reason
}

func (h *tlsHandler) OnHandshakeFail(c *Conn, reason error) {
	h.mu.Lock()
	h.failures = append(h.failures, reason)
	h.mu.Unlock()
	h.closed <- reason
}

// next returns the next close reason or handshake failure.
func (h *tlsHandler) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no close reported within 10 s")
		return nil
	}
}

// startTLS starts an engine with a TLS listener and a plaintext one.
func startTLS(t *testing.T, h Handler, cfg *tls.Config, opts ...Option) (e *Engine, tlsAddr, plainAddr string) {
	t.Helper()
	e, plainAddr = startEngine(t, h, opts...)
	a, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return e, a.String(), plainAddr
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	t.Cleanup(func() { tc.Close() })
	return tc
}

func TestTLSEchoGoClient(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name    string
		version uint16
		opts    []Option
	}{
		{"TLS1.2", tls.VersionTLS12, nil},
		{"TLS1.3", tls.VersionTLS13, nil},
		{"TLS1.3 edge-triggered", tls.VersionTLS13, []Option{WithEdgeTriggered(true), WithReadBudget(64 << 10)}},
		{"TLS1.2 reuse-port", tls.VersionTLS12, []Option{WithReusePort(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTLSHandler()
			_, addr, plain := startTLS(t, h, pki.server(), append([]Option{WithShards(2)}, tc.opts...)...)
			cl := dialTLS(t, addr, pki.client(tc.version))
			// Small messages, then one large enough for many records and
			// a full socket buffer.
			for i := 0; i < 20; i++ {
				msg := []byte(fmt.Sprintf("hello %d", i))
				got, err := roundTrip(cl, msg, 5*time.Second)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("round trip %d: %q, %v", i, got, err)
				}
			}
			big := make([]byte, 4<<20)
			rand.Read(big)
			errc := make(chan error, 1)
			go func() {
				_, err := cl.Write(big)
				errc <- err
			}()
			got := make([]byte, len(big))
			cl.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(cl, got); err != nil {
				t.Fatalf("read big echo: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("write big: %v", err)
			}
			if !bytes.Equal(got, big) {
				t.Fatal("big echo differs")
			}
			// A plaintext listener on the same engine serves meanwhile.
			pc := dialT(t, "tcp", plain)
			if got, err := roundTrip(pc, []byte("plain"), 5*time.Second); err != nil || string(got) != "plain" {
				t.Fatalf("plaintext beside TLS: %q, %v", got, err)
			}
			// Close with close_notify: the server reads it as EOF, closes,
			// and its close_notify reaches us as io.EOF.
			if err := cl.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			cl.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := cl.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("after close_notify: read %d, %v; want io.EOF (the server's close_notify)", n, err)
			}
			reason := h.next(t)
			if !errors.Is(reason, ErrPeerClosed) || errors.Is(reason, ErrTLSTruncated) {
				t.Fatalf("close reason %v, want ErrPeerClosed without truncation", reason)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.states) != 1 || h.states[0].Version != tc.version || !h.states[0].HandshakeComplete {
				t.Fatalf("OnOpen saw TLS states %+v, want one complete at version %x", h.states, tc.version)
			}
		})
	}
}

func TestTLSTruncatedReason(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := newTLSHandler()
	_, addr, _ := startTLS(t, h, pki.server())
	raw := dialT(t, "tcp", addr)
	cl := tls.Client(raw, pki.client(tls.VersionTLS13))
	if got, err := roundTrip(cl, []byte("x"), 5*time.Second); err != nil || string(got) != "x" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	raw.Close() // TCP close, no close_notify
	if reason := h.next(t); !errors.Is(reason, ErrTLSTruncated) || !errors.Is(reason, ErrPeerClosed) {
		t.Fatalf("close reason %v, want ErrTLSTruncated and ErrPeerClosed", reason)
	}
}

// TestTLSDial dials a crypto/tls server with DialTLS: ServerName comes
// from the dialed host, the callback runs after the handshake, and records
// flow both ways on the shard.
func TestTLSDial(t *testing.T) {
	noLeaks(t)
	base := fdcheck.Baseline(t)
	pki := newTestPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.server())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvDone := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			srvDone <- err
			return
		}
		defer nc.Close()
		_, err = io.Copy(nc, nc) // echo until close_notify
		srvDone <- err
	}()
	h := newTLSHandler()
	e, err := New(h, WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop(stopCtx(t, 10*time.Second))
	type result struct {
		state tls.ConnectionState
		err   error
	}
	got := make(chan []byte, 16)
	opened := make(chan result, 1)
	dh := &dialEcho{got: got}
	cfg := &tls.Config{RootCAs: pki.pool} // no ServerName: the dialed host's
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := e.Dial("localhost:"+port, func(c *Conn, err error) {
		if err != nil {
			opened <- result{err: err}
			return
		}
		st, _ := c.TLS()
		opened <- result{state: st}
		c.Write([]byte("ping over TLS"))
	}, DialTLS(cfg), DialHandler(dh)); err != nil {
		t.Fatal(err)
	}
	r := <-opened
	if r.err != nil {
		t.Fatalf("DialTLS: %v", r.err)
	}
	if r.state.ServerName != "localhost" || !r.state.HandshakeComplete || len(r.state.VerifiedChains) == 0 {
		t.Fatalf("state %+v: want ServerName localhost (SNI), complete, verified", r.state)
	}
	var buf []byte
	deadline := time.After(5 * time.Second)
	for string(buf) != "ping over TLS" {
		select {
		case b := <-got:
			buf = append(buf, b...)
		case <-deadline:
			t.Fatalf("echo: got %q", buf)
		}
	}
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-srvDone; err != nil {
		t.Fatalf("server saw %v, want a clean close_notify", err)
	}
	ln.Close()
	fdcheck.Check(t, base)
}

type dialEcho struct {
	BaseHandler
	got chan []byte
}

func (d *dialEcho) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	d.got <- append([]byte(nil), b...)
}

// TestTLSDialFailures: DialTLS's callback gets the handshake's error,
// wrapping ErrTLS and crypto/tls's, and the engine keeps nothing.
func TestTLSDialFailures(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	other := newTestPKI(t) // an authority the client does not trust
	_, tlsAddr, plainAddr := startTLS(t, newTLSHandler(), other.server())
	e, _ := startEngine(t, newTLSHandler())
	for _, tc := range []struct {
		name, addr, want string
	}{
		{"untrusted certificate", tlsAddr, "unknown authority"},
		{"a plaintext server", plainAddr, "tls:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan error, 1)
			if err := e.Dial(tc.addr, func(c *Conn, err error) {
				if c != nil {
					c.Close()
				}
				errc <- err
			}, DialTLS(&tls.Config{RootCAs: pki.pool, ServerName: "localhost"})); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("DialTLS: %v; want ErrTLS wrapping %q", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no callback")
			}
		})
	}
	if !waitFor(5*time.Second, func() bool { return e.Conns() == 0 }) {
		t.Fatalf("%d connections left", e.Conns())
	}
}

// halfCloser closes its write side (close_notify, then FIN) on the first
// bytes, and echoes whatever comes after.
type halfCloser struct {
	*tlsHandler
	after []byte // guarded by tlsHandler.mu: what arrived after CloseWrite
}

func (h *halfCloser) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) == "bye" {
		c.Write([]byte("last words"))
		if err := c.CloseWrite(); err != nil {
			panic(err)
		}
		return
	}
	h.mu.Lock()
	h.after = append(h.after, b...)
	h.mu.Unlock()
}

// TestTLSCloseWrite: CloseWrite sends what was written, then close_notify
// and the FIN; the peer reads EOF and may still send.
func TestTLSCloseWrite(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := &halfCloser{tlsHandler: newTLSHandler()}
	_, addr, _ := startTLS(t, h, pki.server())
	cl := dialTLS(t, addr, pki.client(tls.VersionTLS13))
	cl.Write([]byte("bye"))
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(cl) // to the server's close_notify
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the last words, then a clean EOF", got, err)
	}
	if _, err := cl.Write([]byte("after")); err != nil {
		t.Fatalf("write after the server's close_notify: %v", err)
	}
	if !waitFor(5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return string(h.after) == "after"
	}) {
		t.Fatal("the half-closed server did not read what came after")
	}
	cl.Close()
	if reason := h.next(t); !errors.Is(reason, ErrPeerClosed) || errors.Is(reason, ErrTLSTruncated) {
		t.Fatalf("reason %v, want ErrPeerClosed without truncation", reason)
	}
}

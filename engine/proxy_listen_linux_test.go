package engine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec/proxyproto"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

// whoHandler greets each connection with the addresses it sees,
// "R=<remote> L=<local>\n", then echoes. Connections that never opened
// report their reason on failed.
type whoHandler struct {
	BaseHandler
	failed chan error
}

func newWhoHandler() *whoHandler { return &whoHandler{failed: make(chan error, 64)} }

func (h *whoHandler) OnOpen(c *Conn) error {
	_, err := fmt.Fprintf(c, "R=%v L=%v\n", c.RemoteAddr(), c.LocalAddr())
	return err
}

func (h *whoHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	c.Write(b)
}

func (h *whoHandler) OnHandshakeFail(c *Conn, reason error) { h.failed <- reason }

// startProxyListener starts an engine with h and a PROXY listener.
func startProxyListener(t *testing.T, h Handler, required bool, lopts []ListenOption, opts ...Option) (*Engine, string) {
	t.Helper()
	e, _ := startEngine(t, h, opts...)
	a, err := e.Listen("tcp://127.0.0.1:0", append([]ListenOption{ListenProxyProto(required)}, lopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e, a.String()
}

func v2Header(t *testing.T, h proxyproto.Header, tlvs ...[]byte) []byte {
	t.Helper()
	h.Version = 2
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tlv := range tlvs {
		b = append(b, tlv...)
		n := int(b[14])<<8 | int(b[15]) + len(tlv)
		b[14], b[15] = byte(n>>8), byte(n)
	}
	return b
}

// greeting reads the whoHandler's first line.
func greeting(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestProxyListenAddresses(t *testing.T) {
	relayed4 := proxyproto.Header{Command: proxyproto.Proxy, Family: proxyproto.TCP4,
		Source: netip.MustParseAddrPort("192.0.2.1:5000"), Destination: netip.MustParseAddrPort("198.51.100.2:443")}
	relayed6 := proxyproto.Header{Command: proxyproto.Proxy, Family: proxyproto.TCP6,
		Source: netip.MustParseAddrPort("[2001:db8::1]:40000"), Destination: netip.MustParseAddrPort("[2001:db8::2]:8443")}
	awsTLV := []byte{0xEA, 0x00, 0x05, 0x01, 'v', 'p', 'c', 'e'}
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{"level", nil},
		{"edge", []Option{WithEdgeTriggered(true)}},
		{"reuseport", []Option{WithReusePort(true), WithShards(2)}},
	} {
		for _, tc := range []struct {
			name   string
			header []byte
			split  bool   // send the header a byte at a time
			want   string // the greeting; "" for the socket's own addresses
		}{
			{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n"), false, "R=192.0.2.1:5000 L=198.51.100.2:443"},
			{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n"), false, "R=[2001:db8::1]:40000 L=[2001:db8::2]:8443"},
			{"v1 in pieces", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n"), true, "R=192.0.2.1:5000 L=198.51.100.2:443"},
			{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), false, ""},
			{"v2 TCP4", v2Header(t, relayed4), false, "R=192.0.2.1:5000 L=198.51.100.2:443"},
			{"v2 TCP6", v2Header(t, relayed6), false, "R=[2001:db8::1]:40000 L=[2001:db8::2]:8443"},
			{"v2 TCP4 with an AWS TLV, in pieces", v2Header(t, relayed4, awsTLV), true, "R=192.0.2.1:5000 L=198.51.100.2:443"},
			{"v2 LOCAL", v2Header(t, proxyproto.Header{Command: proxyproto.Local}), false, ""},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				h := newWhoHandler()
				_, addr := startProxyListener(t, h, true, nil, mode.opts...)
				nc := dialT(t, "tcp", addr)
				payload := []byte("the client's first bytes")
				if tc.split {
					for i := range tc.header {
						nc.Write(tc.header[i : i+1])
						time.Sleep(time.Millisecond)
					}
					nc.Write(payload)
				} else {
					// The header and the first bytes in one segment: the
					// bytes behind the header reach OnTraffic.
					nc.Write(append(append([]byte(nil), tc.header...), payload...))
				}
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(nc)
				want := tc.want
				if want == "" {
					want = fmt.Sprintf("R=%v L=%v", nc.LocalAddr(), nc.RemoteAddr())
				}
				if got := greeting(t, r); got != want {
					t.Fatalf("the handler saw %q, want %q", got, want)
				}
				echo := make([]byte, len(payload))
				if _, err := io.ReadFull(r, echo); err != nil || string(echo) != string(payload) {
					t.Fatalf("echo %q, %v; want %q", echo, err, payload)
				}
			})
		}
	}
}

func TestProxyListenFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		required bool
		send     string
		eof      bool  // half-close after sending
		want     error // what the reason wraps besides ErrProxyHeader
	}{
		{"no header", true, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, proxyproto.ErrNoHeader},
		{"malformed v1", true, "PROXY TCP4 192.0.2 198.51.100.2 5000 443\r\n", false, proxyproto.ErrMalformed},
		{"malformed v1 when optional", false, "PROXY TCP4 192.0.2.1 198.51.100.2 99999 443\r\n", false, proxyproto.ErrMalformed},
		{"v1 too long", true, "PROXY TCP4 " + strings.Repeat("1", 120), false, proxyproto.ErrTooLong},
		{"v2 bad version", true, "\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + strings.Repeat("\x00", 12), false, proxyproto.ErrUnsupported},
		{"EOF inside the header", true, "PROXY TCP4 192.0.2.1", true, ErrPeerClosed},
		{"silence", true, "", false, ErrTimeout},
		{"slow header", true, "PROXY TCP4 ", false, ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newWhoHandler()
			e, addr := startProxyListener(t, h, tc.required, nil, WithHandshakeTimeout(300*time.Millisecond))
			// A healthy connection beside the bad one carries on.
			good := dialT(t, "tcp", addr)
			good.Write([]byte("PROXY TCP4 192.0.2.7 198.51.100.2 7000 80\r\n"))
			good.SetDeadline(time.Now().Add(10 * time.Second))
			gr := bufio.NewReader(good)
			if got := greeting(t, gr); got != "R=192.0.2.7:7000 L=198.51.100.2:80" {
				t.Fatalf("the good connection's greeting: %q", got)
			}

			nc := dialT(t, "tcp", addr)
			nc.Write([]byte(tc.send))
			if tc.eof {
				nc.(*net.TCPConn).CloseWrite()
			}
			var reason error
			select {
			case reason = <-h.failed:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection was not closed")
			}
			if !errors.Is(reason, ErrProxyHeader) || !errors.Is(reason, tc.want) {
				t.Fatalf("reason %v: want ErrProxyHeader and %v", reason, tc.want)
			}
			t.Logf("reason: %v", reason)
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := nc.Read(make([]byte, 64)); err == nil {
				t.Fatalf("the bad connection got %d bytes; want it closed", n)
			}
			if got := e.Stats().ProxyFailed; got != 1 {
				t.Fatalf("Stats.ProxyFailed = %d, want 1", got)
			}
			good.Write([]byte("still here"))
			b := make([]byte, len("still here"))
			if _, err := io.ReadFull(gr, b); err != nil || string(b) != "still here" {
				t.Fatalf("the good connection: %q, %v", b, err)
			}
		})
	}
}

// TestProxyListenOptional serves connections without a header on a
// listener that does not require one, with the socket's addresses and
// their bytes intact, beside connections that send one.
func TestProxyListenOptional(t *testing.T) {
	h := newWhoHandler()
	_, addr := startProxyListener(t, h, false, nil)
	for _, tc := range []struct {
		name, send, want, body string
	}{
		{"with a header", "PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\nping", "R=192.0.2.1:5000 L=198.51.100.2:443", "ping"},
		{"without", "ping", "", "ping"},
		{"without, starting like v2's signature", "\r\nping", "", "\r\nping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := dialT(t, "tcp", addr)
			nc.Write([]byte(tc.send))
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(nc)
			want := tc.want
			if want == "" {
				want = fmt.Sprintf("R=%v L=%v", nc.LocalAddr(), nc.RemoteAddr())
			}
			if got := greeting(t, r); got != want {
				t.Fatalf("the handler saw %q, want %q", got, want)
			}
			echo := make([]byte, len(tc.body))
			if _, err := io.ReadFull(r, echo); err != nil || string(echo) != tc.body {
				t.Fatalf("echo %q, %v; want %q", echo, err, tc.body)
			}
		})
	}
}

// TestProxyListenTLS sends the header and then a TLS handshake on one
// connection, the header's bytes and the ClientHello in one segment: the
// handshake runs after the header, and the handler sees the header's
// addresses over TLS.
func TestProxyListenTLS(t *testing.T) {
	pki := newTestPKI(t)
	h := newWhoHandler()
	_, addr := startProxyListener(t, h, true, []ListenOption{ListenTLS(pki.server())})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		nc := dialT(t, "tcp", addr)
		hdr := v2Header(t, proxyproto.Header{Command: proxyproto.Proxy, Family: proxyproto.TCP4,
			Source: netip.MustParseAddrPort("203.0.113.9:6001"), Destination: netip.MustParseAddrPort("203.0.113.1:443")})
		tc := tls.Client(&prefixConn{Conn: nc, prefix: hdr}, pki.client(v))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(tc)
		if got := greeting(t, r); got != "R=203.0.113.9:6001 L=203.0.113.1:443" {
			t.Fatalf("TLS %x: the handler saw %q", v, got)
		}
		tc.Write([]byte("secret"))
		b := make([]byte, 6)
		if _, err := io.ReadFull(r, b); err != nil || string(b) != "secret" {
			t.Fatalf("TLS %x: echo %q, %v", v, b, err)
		}
		if st := tc.ConnectionState(); st.Version != v {
			t.Fatalf("TLS version %x, want %x", st.Version, v)
		}
		tc.Close()
	}
	// A TLS client that sends no header is refused before any handshake.
	nc := dialT(t, "tcp", addr)
	tc := tls.Client(nc, pki.client(tls.VersionTLS13))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Fatal("a handshake without a PROXY header succeeded")
	}
	if reason := <-h.failed; !errors.Is(reason, proxyproto.ErrNoHeader) {
		t.Fatalf("reason %v: want ErrNoHeader", reason)
	}
}

// prefixConn writes prefix in front of the first Write, so that a header
// and a ClientHello share a segment.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Write(b []byte) (int, error) {
	if p.prefix != nil {
		buf := append(p.prefix, b...)
		p.prefix = nil
		if _, err := p.Conn.Write(buf); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return p.Conn.Write(b)
}

// TestProxyListenStop stops the engine while connections wait for their
// headers (plaintext and TLS listeners): each is reported with
// ErrEngineStopped, and no goroutine or fd is left.
func TestProxyListenStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	base := fdcheck.Baseline(t)
	h := newWhoHandler()
	e, err := New(h, WithLingerTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pki := newTestPKI(t)
	var clients []net.Conn
	for _, lopts := range [][]ListenOption{{ListenProxyProto(true)}, {ListenProxyProto(true), ListenTLS(pki.server())}} {
		a, err := e.Listen("tcp://127.0.0.1:0", lopts...)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			nc, err := net.Dial("tcp", a.String())
			if err != nil {
				t.Fatal(err)
			}
			nc.Write([]byte("PROXY TCP4 192.0.2.1 "))
			clients = append(clients, nc)
		}
	}
	if !waitFor(5*time.Second, func() bool { return e.Conns() == len(clients) }) {
		t.Fatalf("%d connections on the shards, want %d", e.Conns(), len(clients))
	}
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for range clients {
		select {
		case reason := <-h.failed:
			if !errors.Is(reason, ErrEngineStopped) {
				t.Fatalf("reason %v: want ErrEngineStopped", reason)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting connection was not reported")
		}
	}
	for _, nc := range clients {
		nc.Close()
	}
	fdcheck.Check(t, base)
}

// pausingWho pauses reading in OnOpen, as a relay does until its backend
// is connected, and resumes from another goroutine a little later.
type pausingWho struct{ whoHandler }

func (h *pausingWho) OnOpen(c *Conn) error {
	c.PauseRead()
	c.SetContext("paused")
	id, e := c.ID(), c.Engine()
	time.AfterFunc(50*time.Millisecond, func() {
		if hd, ok := e.Conn(id); ok {
			hd.Do(func(c *Conn) {
				c.SetContext(nil)
				c.ResumeRead()
			})
		}
	})
	return h.whoHandler.OnOpen(c)
}

func (h *pausingWho) OnTraffic(c *Conn) {
	if c.Context() != nil {
		c.Write([]byte("OnTraffic while paused\n"))
	}
	h.whoHandler.OnTraffic(c)
}

// TestProxyListenPausedOnOpen sends the header and the first bytes in one
// segment to a handler that pauses in OnOpen: the bytes, read from the
// socket with the header, reach OnTraffic once it resumes, and nothing
// else comes to wake it.
func TestProxyListenPausedOnOpen(t *testing.T) {
	h := &pausingWho{whoHandler: *newWhoHandler()}
	_, addr := startProxyListener(t, h, true, nil)
	nc := dialT(t, "tcp", addr)
	nc.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\nfirst bytes"))
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	if got := greeting(t, r); got != "R=192.0.2.1:5000 L=198.51.100.2:443" {
		t.Fatalf("greeting %q", got)
	}
	b := make([]byte, len("first bytes"))
	if _, err := io.ReadFull(r, b); err != nil || string(b) != "first bytes" {
		t.Fatalf("echo %q, %v", b, err)
	}
}

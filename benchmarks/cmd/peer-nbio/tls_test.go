package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"github.com/shardnet/shardnet/internal/tlscert"
	"golang.org/x/sys/cpu"
)

// TestNbioTLS: nbio's TLS peer negotiates what every HTTPS peer of the
// benchmark must (TLS 1.3, X25519, ALPN http/1.1, and AES-128-GCM where
// the CPU has AES), answers pipelined requests split across records and
// writes, and closes after "Connection: close" with a close_notify.
func TestNbioTLS(t *testing.T) {
	peer.StartDateClock()
	ca, err := tlscert.NewAuthority("peer-nbio test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := tlscert.WriteFiles(t.TempDir(), "server", leaf)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	e, err := startNbioTLS(addr, 1, certFile+","+keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{
		RootCAs: ca.Pool(), ServerName: "localhost",
		CurvePreferences: []tls.CurveID{tls.X25519}, NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	cs := c.ConnectionState()
	if cs.Version != tls.VersionTLS13 || cs.CurveID != tls.X25519 || cs.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("negotiated version %x, curve %v, ALPN %q", cs.Version, cs.CurveID, cs.NegotiatedProtocol)
	}
	if cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ && cs.CipherSuite != tls.TLS_AES_128_GCM_SHA256 {
		t.Fatalf("cipher suite %s on a CPU with AES-GCM, want TLS_AES_128_GCM_SHA256", tls.CipherSuiteName(cs.CipherSuite))
	}

	req := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	last := "GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	// The second request is cut inside its head: the peer keeps the part
	// until the rest comes in the next record.
	for _, part := range []string{req + req[:10], req[10:], req + last} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := bufio.NewReader(c)
	for i := range 4 {
		status, err := r.ReadString('\n')
		if err != nil || status != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("answer %d: status %q, %v", i+1, status, err)
		}
		length := -1
		for {
			h, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("answer %d: head: %v", i+1, err)
			}
			if h == "\r\n" {
				break
			}
			if v, ok := strings.CutPrefix(h, "Content-Length: "); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil || string(body) != "Hello, World!" {
			t.Fatalf("answer %d: body %q, %v", i+1, body, err)
		}
	}
	// crypto/tls reports io.EOF only for a close_notify; a bare FIN is
	// io.ErrUnexpectedEOF.
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Fatalf("after the last answer: %q, %v (want a close_notify)", rest, err)
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

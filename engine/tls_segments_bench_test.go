package engine

import (
	"crypto"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// segmentClock records when a server handshake reaches each place where
// crypto/tls calls back into us (tls_yield.go's yield points), and when
// it first reads from the peer after its signature (the end of its
// first flight's computation).
type segmentClock struct {
	start, config, cert, signIn, signOut, read time.Time
	signed                                     bool
}

// segmentConn is the server's side of the benchmark's connection: it
// notes the first Read after the signature.
type segmentConn struct {
	net.Conn
	clk *segmentClock
}

func (c *segmentConn) Read(p []byte) (int, error) {
	if c.clk.signed && c.clk.read.IsZero() {
		c.clk.read = time.Now()
	}
	return c.Conn.Read(p)
}

// segmentSigner times the certificate's signature.
type segmentSigner struct {
	crypto.Signer
	clk *segmentClock
}

func (s *segmentSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.clk.signIn = time.Now()
	sig, err := s.Signer.Sign(r, digest, opts)
	s.clk.signOut = time.Now()
	s.clk.signed = true
	return sig, err
}

// BenchmarkHandshakeSegments times the computation of a TLS 1.3 server
// handshake (X25519, an ECDSA P-256 certificate, as in
// BenchmarkTLSHandshakeFlood) between the places where crypto/tls calls
// out: from the start to GetConfigForClient (reading and parsing the
// ClientHello), from there to GetCertificate (the key exchange: an X25519
// key pair and the shared secret), from there to the signature (the
// ServerHello, the key schedule, the certificate message), the signature
// itself (CertificateVerify), and from it to the first read for the
// client's Finished (the server's Finished, the flush). Each segment is
// what a message for a shard waits at most behind a handshake on one P
// when the handshake may stop at those places (tls_yield.go). crypto/tls
// over loopback TCP, the client in this process on its own goroutine.
func BenchmarkHandshakeSegments(b *testing.B) {
	pki := newTestPKI(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ccfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost", MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519}}
	var sum [5]time.Duration
	var mu sync.Mutex
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}()
		raw, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		clk := &segmentClock{}
		cert := pki.leaf
		cert.PrivateKey = &segmentSigner{Signer: pki.leaf.PrivateKey.(crypto.Signer), clk: clk}
		scfg := &tls.Config{
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				clk.config = time.Now()
				return nil, nil
			},
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				clk.cert = time.Now()
				return &cert, nil
			},
		}
		sc := tls.Server(&segmentConn{Conn: raw, clk: clk}, scfg)
		clk.start = time.Now()
		err = sc.Handshake()
		sc.Close()
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		sum[0] += clk.config.Sub(clk.start)
		sum[1] += clk.cert.Sub(clk.config)
		sum[2] += clk.signIn.Sub(clk.cert)
		sum[3] += clk.signOut.Sub(clk.signIn)
		sum[4] += clk.read.Sub(clk.signOut)
		mu.Unlock()
	}
	n := float64(b.N)
	for i, name := range []string{"hello-µs", "kex-µs", "serverhello-µs", "sign-µs", "finished-µs"} {
		b.ReportMetric(float64(sum[i].Microseconds())/n, name)
	}
}

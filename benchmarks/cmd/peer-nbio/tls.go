package main

import (
	"fmt"
	"strings"
	_ "unsafe" // go:linkname, for llibAESGCM

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/mempool"
	"github.com/shardnet/shardnet/benchmarks/internal/peer"
	"golang.org/x/sys/cpu"
)

// nbio's TLS is llib's copy of crypto/tls with a non-blocking mode: the
// poller appends the ciphertext it read to the tls.Conn and decrypts on
// the poller goroutine, the handshake included (it resumes where the
// input ran out), with its buffers from nbio's mempool. This is how
// nbhttp's TLS server (AddConnTLSNonBlocking, TLSDataHandler) drives it;
// here the HTTP answer is the shared one of every peer
// (../../internal/peer), so that against peer-nbio's plaintext HTTP the
// difference is nbio's TLS alone.

// llibAESGCM is llib's record of whether the CPU does AES-GCM in
// hardware, which orders its cipher suites. llib computes it from its own
// copy of the runtime's internal/cpu, which nothing initialises (the
// runtime initialises only its own), so it is always false and nbio's TLS
// prefers ChaCha20-Poly1305 to AES-GCM on every CPU. serveNbioTLS sets it
// from golang.org/x/sys/cpu before the first handshake, so that nbio
// negotiates TLS_AES_128_GCM_SHA256 as every other HTTPS peer does (the
// driver's check asserts it): the comparison is of the engines, on the
// same record cipher. llib's AES-GCM itself is the standard library's
// crypto/aes and crypto/cipher, which use the hardware either way.
//
//go:linkname llibAESGCM github.com/lesismal/llib/std/crypto/tls.hasAESGCMHardwareSupport
var llibAESGCM bool

// nbioTLS is an HTTPS connection's session: its TLS state and the
// plaintext left unparsed between reads.
type nbioTLS struct {
	tc      *tls.Conn
	pending *nbioPending
}

// serveNbioTLS serves HTTPS on nbio's pollers with the certificate and key
// in files ("cert.pem,key.pem"): TLS 1.3 only, X25519 the only key
// exchange, ALPN http/1.1, as every HTTPS peer of the benchmark.
func serveNbioTLS(addr string, loops int, files string) error {
	e, err := startNbioTLS(addr, loops, files)
	if err != nil {
		return err
	}
	defer e.Stop()
	peer.Ready()
	select {}
}

// startNbioTLS starts serveNbioTLS's engine.
func startNbioTLS(addr string, loops int, files string) (*nbio.Engine, error) {
	cfg, err := nbioTLSConfig(files)
	if err != nil {
		return nil, err
	}
	llibAESGCM = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}, NPoller: loops})
	// The session is made on the poller, at the first bytes, not in
	// OnOpen, which runs on the accepting goroutine: nbio hands the
	// connection to its poller through epoll, which the race detector
	// does not see as a synchronisation.
	e.OnData(func(c *nbio.Conn, data []byte) {
		s, _ := c.Session().(*nbioTLS)
		if s == nil {
			s = &nbioTLS{tc: tls.NewConn(c, cfg, false, true, mempool.DefaultMemPool)}
			c.SetSession(s)
		}
		nbioTLSData(c, s, data)
	})
	e.OnClose(func(c *nbio.Conn, _ error) {
		if s, ok := c.Session().(*nbioTLS); ok {
			s.tc.Close() // gives its buffers back to the mempool; the socket is already closed
		}
	})
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e, nil
}

// nbioTLSData appends the ciphertext nbio read and decrypts every whole
// record into the same read buffer (nbio's buffer is the poller's, and
// the ciphertext is copied into the tls.Conn first, as nbhttp does), then
// answers the plaintext through tls.Conn.Write.
func nbioTLSData(c *nbio.Conn, s *nbioTLS, data []byte) {
	defer s.tc.ResetOrFreeBuffer()
	in := data
	for {
		_, n, err := s.tc.AppendAndRead(in, data)
		in = nil
		if err != nil {
			c.CloseWithError(err)
			return
		}
		if n == 0 {
			return
		}
		serveNbioHTTP(&s.pending, data[:n], s.tc.Write, s.tc.Close)
	}
}

// nbioTLSConfig loads "cert.pem,key.pem" into llib's tls.Config with the
// benchmark's TLS settings.
func nbioTLSConfig(files string) (*tls.Config, error) {
	certFile, keyFile, ok := strings.Cut(files, ",")
	if !ok || certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("-tls %q: want cert.pem,key.pem", files)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		// The server's order, AES-128-GCM first (with llibAESGCM set), as
		// crypto/tls since Go 1.17, nginx and HAProxy here: wrk's OpenSSL
		// lists AES-256-GCM first.
		PreferServerCipherSuites: true,
		NextProtos:               []string{"http/1.1"},
		CurvePreferences:         []tls.CurveID{tls.X25519},
	}, nil
}

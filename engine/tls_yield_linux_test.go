package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// rsaCertificate makes a self-signed RSA certificate for host, usable for
// TLS 1.2's RSA key exchange (key encipherment).
func rsaCertificate(t *testing.T, host string) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestTLSServeConfigAsCryptoTLS checks that a TLS listener's handshakes,
// which run with our copy of the application's config (its callbacks
// ours, the certificate's key wrapped: tls_yield.go), end as crypto/tls
// ends them with the application's config itself: the same certificate
// chosen (one, by SNI among several, by NameToCertificate, by
// GetCertificate, by GetConfigForClient's config), the same ALPN
// protocol, cipher suite and version, and TLS 1.2's RSA key exchange still
// offered (the wrapped key stays a crypto.Decrypter). crypto/tls on net is
// the reference, in the same test, with the same configs.
func TestTLSServeConfigAsCryptoTLS(t *testing.T) {
	noLeaks(t)
	ca, err := tlscert.NewAuthority("serve config test")
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(hosts ...string) tls.Certificate {
		c, err := ca.Leaf(hosts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, w, other := leaf("a.test", "127.0.0.1"), leaf("b.test"), leaf("*.w.test"), leaf("other.test")
	rsaCert := rsaCertificate(t, "rsa.test")
	var calls atomic.Int64 // the application's callbacks, both servers
	getOther := func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		return &other, nil
	}
	perClient := &tls.Config{Certificates: []tls.Certificate{b}, NextProtos: []string{"per-client/1"}}
	client := func(name string, protos ...string) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), ServerName: name, NextProtos: protos}
	}
	cases := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		want   *tls.Certificate
		calls  int64 // the application's callbacks per handshake
	}{
		{"one certificate, no SNI", &tls.Config{Certificates: []tls.Certificate{a}},
			&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, &a, 0},
		{"SNI picks the second", &tls.Config{Certificates: []tls.Certificate{a, b}}, client("b.test"), &b, 0},
		{"no match: the first", &tls.Config{Certificates: []tls.Certificate{a, b}},
			&tls.Config{RootCAs: ca.Pool(), ServerName: "a.test"}, &a, 0},
		{"NameToCertificate wildcard", &tls.Config{Certificates: []tls.Certificate{a, b},
			NameToCertificate: map[string]*tls.Certificate{"*.w.test": &w}}, client("x.w.test"), &w, 0},
		{"GetCertificate with SNI", &tls.Config{Certificates: []tls.Certificate{a}, GetCertificate: getOther},
			client("other.test"), &other, 1},
		{"GetCertificate not called without SNI", &tls.Config{Certificates: []tls.Certificate{a}, GetCertificate: getOther},
			&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, &a, 0},
		{"GetCertificate alone", &tls.Config{GetCertificate: getOther}, client("other.test"), &other, 1},
		{"ALPN", &tls.Config{Certificates: []tls.Certificate{a}, NextProtos: []string{"x/2", "x/1"}},
			client("a.test", "x/1", "x/2"), &a, 0},
		{"GetConfigForClient's config", &tls.Config{Certificates: []tls.Certificate{a},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { calls.Add(1); return perClient, nil }},
			client("b.test", "per-client/1"), &b, 1},
		{"GetConfigForClient nil: the listener's", &tls.Config{Certificates: []tls.Certificate{a},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { calls.Add(1); return nil, nil }},
			client("a.test"), &a, 1},
		{"TLS 1.2 ECDHE-ECDSA", &tls.Config{Certificates: []tls.Certificate{a}},
			&tls.Config{RootCAs: ca.Pool(), ServerName: "a.test", MaxVersion: tls.VersionTLS12}, &a, 0},
		// crypto/tls offers RSA key exchange only when CipherSuites
		// names it.
		{"TLS 1.2 RSA key exchange", &tls.Config{Certificates: []tls.Certificate{rsaCert},
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
			&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}, &rsaCert, 0},
	}
	// A share below 1: the only engines whose listeners use the copy.
	e, _ := startEngine(t, echoHandler{}, WithShards(1), WithHandshakeShare(0.5))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ea, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(tc.server))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Unlisten(ea)
			var states [2]tls.ConnectionState
			for i, addr := range []string{netTLSEcho(t, tc.server), ea.String()} {
				before := calls.Load()
				c := dialTLS(t, addr, tc.client.Clone())
				if _, err := roundTrip(c, []byte("ping"), 5*time.Second); err != nil {
					t.Fatalf("server %d: %v", i, err)
				}
				states[i] = c.ConnectionState()
				if got := calls.Load() - before; got != tc.calls {
					t.Errorf("server %d: the application's callbacks ran %d times, want %d", i, got, tc.calls)
				}
			}
			ref, got := states[0], states[1]
			if !bytes.Equal(ref.PeerCertificates[0].Raw, tc.want.Certificate[0]) {
				t.Fatalf("crypto/tls on net chose %s, the case expects %s", ref.PeerCertificates[0].Subject, tc.want.Leaf.Subject)
			}
			if !bytes.Equal(got.PeerCertificates[0].Raw, ref.PeerCertificates[0].Raw) {
				t.Errorf("engine's certificate %s, crypto/tls's %s", got.PeerCertificates[0].Subject, ref.PeerCertificates[0].Subject)
			}
			if got.NegotiatedProtocol != ref.NegotiatedProtocol || got.CipherSuite != ref.CipherSuite || got.Version != ref.Version {
				t.Errorf("engine: ALPN %q, suite %s, version %x; crypto/tls: %q, %s, %x",
					got.NegotiatedProtocol, tls.CipherSuiteName(got.CipherSuite), got.Version,
					ref.NegotiatedProtocol, tls.CipherSuiteName(ref.CipherSuite), ref.Version)
			}
		})
	}
}

// shardRecorder is an echo handler that says on which shard each
// connection opened.
type shardRecorder struct {
	echoHandler
	opened chan int
}

func (h *shardRecorder) OnOpen(c *Conn) error {
	h.opened <- c.sh.idx
	return nil
}

// blockShard makes shard s run a task that waits until the returned
// function is called (at cleanup at the latest), so that input for it
// stays unread meanwhile.
func blockShard(t *testing.T, s *shardCtx) func() {
	t.Helper()
	release, running := make(chan struct{}), make(chan struct{})
	if err := s.loop.Submit(func() { close(running); <-release }); err != nil {
		t.Fatal(err)
	}
	<-running
	var once atomic.Bool
	free := func() {
		if once.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(free)
	return free
}

// waitPending waits until pendingShards reports shard idx.
func waitPending(t *testing.T, e *Engine, idx int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var buf [maxPollShards]int
		for _, i := range e.pendingShards(buf[:0]) {
			if i == idx {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard %d never polled as having input waiting", idx)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHandshakeYieldWaitsForRound checks the yield point's wait: a shard
// with input it has not read polls as pending; the channel awaitRound
// gives stays open while the shard does not run (a task holds it) and is
// closed once it has run its round; waitRounds on a shard that does not
// run returns after yieldBound, not before.
func TestHandshakeYieldWaitsForRound(t *testing.T) {
	noLeaks(t)
	h := &shardRecorder{opened: make(chan int, 4)}
	e, addr := startEngine(t, h, WithShards(2))
	nc := dialT(t, "tcp", addr)
	idx := <-h.opened
	s := e.shards[idx]

	free := blockShard(t, s)
	if _, err := nc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	waitPending(t, e, idx)
	ch := s.awaitRound()
	if ch == nil {
		t.Fatal("awaitRound: nil for a running shard")
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("the wait ended while the shard was held")
	default:
	}
	start := time.Now()
	waitRounds(e, []int{idx})
	if d := time.Since(start); d < yieldBound {
		t.Errorf("waitRounds on a held shard returned after %v, before the bound %v", d, yieldBound)
	}
	free()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end after the shard ran")
	}
	buf := make([]byte, 4)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo after the round: %q, %v", buf, err)
	}
}

// TestHandshakeYieldsToHeldShard runs a TLS handshake while another shard
// has input waiting and does not run (a task holds it): with a share
// below 1 and the shards holding every P, the handshake stops at its
// yield points (Stats of the slots count them), each stop ends at the
// bound, and the handshake completes while the other shard is still
// held. With the default share it does not stop.
func TestHandshakeYieldsToHeldShard(t *testing.T) {
	for _, share := range []float64{0.5, 1} {
		t.Run("share="+map[bool]string{true: "0.5", false: "1"}[share < 1], func(t *testing.T) {
			noLeaks(t)
			pki := newTestPKI(t)
			shards := max(2, runtime.GOMAXPROCS(0)) // the shards hold every P
			h := &shardRecorder{opened: make(chan int, 16)}
			e, addr := startEngine(t, h, WithShards(shards), WithHandshakeShare(share))
			ta, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(pki.server()))
			if err != nil {
				t.Fatal(err)
			}
			nc := dialT(t, "tcp", addr)
			held := <-h.opened
			free := blockShard(t, e.shards[held])
			if _, err := nc.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			waitPending(t, e, held)

			// The acceptor balances: dial until a TLS connection opens
			// on another shard while the held one stays held.
			done := make(chan *tls.Conn, shards)
			for range shards {
				go func() {
					d := &net.Dialer{Timeout: 10 * time.Second}
					c, err := tls.DialWithDialer(d, "tcp", ta.String(), pki.client(tls.VersionTLS13))
					if err != nil {
						done <- nil
						return
					}
					done <- c
				}()
			}
			var opened *tls.Conn
			select {
			case opened = <-done:
			case <-time.After(10 * time.Second):
			}
			if opened == nil {
				t.Fatal("no TLS handshake completed while a shard was held")
			}
			defer opened.Close()
			yields := e.hsCPU.yields.Load()
			free()
			for range shards - 1 {
				if c := <-done; c != nil {
					c.Close()
				}
			}
			if share < 1 && yields == 0 {
				t.Error("the handshake never stopped for the held shard")
			}
			if share == 1 && yields != 0 {
				t.Errorf("%d stops with the default share", yields)
			}
		})
	}
}

// TestHandshakeConfigOnlyWithShare: a TLS listener runs its handshakes
// with the application's config itself unless the engine has a handshake
// share below 1, and only then with the copy whose callbacks are the
// yield points.
func TestHandshakeConfigOnlyWithShare(t *testing.T) {
	noLeaks(t)
	user := newTestPKI(t).server()
	tests := []struct {
		name    string
		opts    []Option
		wrapped bool
	}{
		{name: "default share", opts: nil},
		{name: "share 1", opts: []Option{WithHandshakeShare(1)}},
		{name: "share 0.5", opts: []Option{WithHandshakeShare(0.5)}, wrapped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(echoHandler{}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			got := e.handshakeConfig(user)
			if (got != user) != tc.wrapped {
				t.Fatalf("handshakeConfig returned the application's config: %v, want a copy: %v", got == user, tc.wrapped)
			}
			if tc.wrapped && (got.GetCertificate == nil || got.GetConfigForClient == nil || len(got.Certificates) != 0) {
				t.Fatal("the copy does not choose the certificate itself")
			}
			if e.handshakeConfig(nil) != nil {
				t.Fatal("a plaintext listener got a TLS config")
			}
		})
	}
}

package engine

import (
	"crypto"
	"crypto/tls"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// Yield points inside a server handshake. Go does not preempt a goroutine
// for its first 10 ms and has no priorities, so when the shards hold every
// P (GOMAXPROCS at most the shard count), a message that arrives while a
// handshake computes waits for the rest of that computation: the whole
// first flight of a TLS 1.3 server, about 200 µs here (the key exchange,
// the ServerHello, the signature, the Finished; BenchmarkHandshakeSegments
// times each part). crypto/tls calls out to the config at three places in
// that flight: GetConfigForClient once the ClientHello is parsed,
// GetCertificate after the key exchange (TLS 1.3; before it in TLS 1.2),
// and the certificate key's Sign (CertificateVerify, ServerKeyExchange) or
// Decrypt (TLS 1.2's RSA key exchange). A TLS listener's handshakes run
// with a copy of the listener's config whose callbacks are ours (they
// call the application's own and keep what they decide), and whose
// certificate comes back with its key wrapped, so the handshake's
// goroutine gets the control at each of those places. There, if a shard
// has input waiting (its epoll fd polls readable), it parks until that
// shard has run a round, so the message waits for one part of the
// computation instead of the whole.

// yieldBound is the longest a handshake parks at one yield point for the
// shards to run. A shard's round with input waiting is tens to hundreds
// of microseconds, so it is seldom reached; it is there so that a shard
// that does not come round (stopping, a callback that blocks) does not
// hold the handshake. A handshake has at most four yield points, so it
// waits at most 8 ms for them in all, far inside the handshake timeout
// (5 s by default): steady traffic on the shards slows handshakes by a
// round per point, it cannot starve them.
const yieldBound = 2 * time.Millisecond

// maxPollShards is how many shards' epoll fds one poll(2) checks, so that
// the array it needs lives on the stack.
const maxPollShards = 16

// serverTLS holds what a TLS listener's handshakes run with: serve, a
// copy of the application's config whose GetConfigForClient and
// GetCertificate are ours, and the copies made of the configs the
// application's own GetConfigForClient returns.
type serverTLS struct {
	user  *tls.Config
	serve *tls.Config

	mu     sync.Mutex
	served map[*tls.Config]*tls.Config // the application's per-client configs, and ours of them
}

// maxServedConfigs bounds serverTLS.served: an application whose
// GetConfigForClient makes a new Config for every handshake would
// otherwise grow it without end. Past it, such configs are used as they
// come, without the yield points after GetConfigForClient.
const maxServedConfigs = 64

// handshakeConfig returns the config a TLS listener with the
// application's config user (nil: plaintext) runs its handshakes with:
// the application's own, or, with a WithHandshakeShare below 1 (the only
// engines whose handshakes stop at the yield points), serveTLS's copy.
// The copy chooses the certificate with code of ours that follows
// crypto/tls's choice (TestTLSServeConfigAsCryptoTLS); an engine that
// does not need the yield points does not depend on that.
func (e *Engine) handshakeConfig(user *tls.Config) *tls.Config {
	if user == nil || e.cfg.handshakeShare >= 1 {
		return user
	}
	return serveTLS(user)
}

// serveTLS returns the config a TLS listener with the application's
// config user gives crypto/tls for its handshakes.
func serveTLS(user *tls.Config) *tls.Config {
	st := &serverTLS{user: user}
	st.serve = st.wrap(user)
	st.serve.GetConfigForClient = st.configForClient
	return st.serve
}

// wrap returns a copy of u whose GetCertificate is ours: it chooses among
// u's certificates as crypto/tls would from u and returns the choice with
// its key wrapped. The copy has no Certificates, so that crypto/tls calls
// GetCertificate for every handshake (with Certificates set, it calls it
// only for a ClientHello with SNI). As crypto/tls does with the config
// that GetConfigForClient returns, session tickets use the listener's
// keys unless u set its own (Clone keeps those).
func (st *serverTLS) wrap(u *tls.Config) *tls.Config {
	w := u.Clone()
	w.Certificates = nil // and so its NameToCertificate goes unread: certificateFor reads u's
	w.GetCertificate = func(chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return certificateFor(u, chi)
	}
	w.GetConfigForClient = nil // crypto/tls calls it on the listener's config only
	return w
}

// configForClient is the listener config's GetConfigForClient: the first
// yield point, then the application's GetConfigForClient if it set one,
// whose config comes back as our copy of it (made once per config).
func (st *serverTLS) configForClient(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	if tc := tlsConnOfHello(chi); tc != nil {
		tc.yieldCPU()
	}
	if st.user.GetConfigForClient == nil {
		return nil, nil
	}
	cfg, err := st.user.GetConfigForClient(chi)
	if cfg == nil || err != nil {
		return cfg, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if w, ok := st.served[cfg]; ok {
		return w, nil
	}
	if len(st.served) >= maxServedConfigs {
		return cfg, nil
	}
	if st.served == nil {
		st.served = make(map[*tls.Config]*tls.Config)
	}
	w := st.wrap(cfg)
	st.served[cfg] = w
	return w, nil
}

// certificateFor is GetCertificate of our copy of u: a yield point after
// the key exchange, then the certificate crypto/tls would have chosen
// from u (u's GetCertificate for a ClientHello with SNI or when u has no
// Certificates, then the only one, NameToCertificate, the first the
// client supports, the first), given back with its key wrapped in the
// handshake's own copy (no allocation). A nil certificate without error
// makes crypto/tls fail the handshake as it would with u.
func certificateFor(u *tls.Config, chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	tc := tlsConnOfHello(chi)
	if tc != nil {
		tc.yieldCPU()
	}
	cert, err := chooseCertificate(u, chi)
	if cert == nil || err != nil || tc == nil {
		return cert, err
	}
	return tc.wire.hs.keep(tc, cert), nil
}

// chooseCertificate is crypto/tls's choice of a certificate from u for
// chi (Config.getCertificate), which a config whose GetCertificate is
// ours no longer makes itself.
func chooseCertificate(u *tls.Config, chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if u.GetCertificate != nil && (len(u.Certificates) == 0 || chi.ServerName != "") {
		if cert, err := u.GetCertificate(chi); cert != nil || err != nil {
			return cert, err
		}
	}
	switch len(u.Certificates) {
	case 0:
		return nil, nil
	case 1:
		return &u.Certificates[0], nil
	}
	if byName := u.NameToCertificate; byName != nil { // deprecated, and still honoured by crypto/tls
		name := strings.ToLower(chi.ServerName)
		if cert, ok := byName[name]; ok {
			return cert, nil
		}
		if name != "" {
			wild := "*"
			if dot := strings.IndexByte(name, '.'); dot >= 0 {
				wild += name[dot:]
			}
			if cert, ok := byName[wild]; ok {
				return cert, nil
			}
		}
	}
	for i := range u.Certificates {
		if chi.SupportsCertificate(&u.Certificates[i]) == nil {
			return &u.Certificates[i], nil
		}
	}
	return &u.Certificates[0], nil
}

// tlsConnOfHello returns the connection whose handshake chi belongs to,
// or nil if chi's Conn is not one of ours.
func tlsConnOfHello(chi *tls.ClientHelloInfo) *tlsConn {
	t, ok := chi.Conn.(*tlsTransport)
	if !ok {
		return nil
	}
	return (*tlsConn)(t)
}

// keep copies cert into the handshake's state with its key wrapped so
// that signing (or, TLS 1.2 with RSA key exchange, decrypting) is a yield
// point, and returns the copy. The wrapper is a crypto.Signer, and a
// crypto.Decrypter only when the key is one too, so crypto/tls picks the
// same key exchange and signature schemes; a key that is not a Signer is
// left as it is (crypto/tls reports it, or uses it as a Decrypter alone).
// The handshake's goroutine.
func (hs *handshakeState) keep(tc *tlsConn, cert *tls.Certificate) *tls.Certificate {
	hs.cert = *cert
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return &hs.cert
	}
	hs.signer = yieldSigner{Signer: signer, tc: tc}
	if dec, ok := cert.PrivateKey.(crypto.Decrypter); ok {
		hs.decrypter = yieldDecrypter{yieldSigner: &hs.signer, dec: dec}
		hs.cert.PrivateKey = &hs.decrypter
	} else {
		hs.cert.PrivateKey = &hs.signer
	}
	return &hs.cert
}

// yieldSigner is a certificate's key whose Sign is a yield point.
type yieldSigner struct {
	crypto.Signer
	tc *tlsConn
}

// Sign yields (yieldCPU), then signs with the key.
func (s *yieldSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.tc.yieldCPU()
	return s.Signer.Sign(rand, digest, opts)
}

// yieldDecrypter is a key that is a crypto.Decrypter as well, its Sign and
// Decrypt yield points.
type yieldDecrypter struct {
	*yieldSigner
	dec crypto.Decrypter
}

// Decrypt yields (yieldCPU), then decrypts with the key.
func (d *yieldDecrypter) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d.tc.yieldCPU()
	return d.dec.Decrypt(rand, msg, opts)
}

// yieldCPU is a yield point of the connection's handshake: when the
// engine has a WithHandshakeShare below 1 (it favours the connections
// already open over its handshake rate), the shards hold every P, and one
// or more of them has input waiting, the handshake parks until each of
// those has run a round (or yieldBound has passed), and the time it parks
// does not count as its CPU time. Not with the default share: a stop
// costs the handshake a round of each shard and two thread switches,
// which halved the new TLS connections per second of a one-P server
// (benchmarks/results/tls-16g). It keeps its CPU slot meanwhile: passed on, the
// slot would let the next handshake in line compute, on one P quite
// possibly before the shard. The handshake's goroutine.
func (tc *tlsConn) yieldCPU() {
	w := &tc.wire
	hs := w.hs
	e := w.c.sh.e
	if !hs.slot || e.cfg.handshakeShare >= 1 || e.cfg.shards < runtime.GOMAXPROCS(0) {
		return
	}
	var ready [maxPollShards]int
	pending := e.pendingShards(ready[:0])
	if len(pending) == 0 || w.ended() != nil {
		return
	}
	cs := &e.hsCPU
	cs.settle(hs.took)
	cs.yields.Add(1)
	waitRounds(e, pending)
	hs.took = cs.now()
}

// waitRounds waits until each of the shards numbered in pending has run a
// round with its input (shardCtx.roundPassed), or yieldBound has passed.
func waitRounds(e *Engine, pending []int) {
	var timer *time.Timer
	for _, i := range pending {
		ch := e.shards[i].awaitRound()
		if ch == nil {
			continue // the shard is closed: nothing to wait for
		}
		if timer == nil {
			timer = time.NewTimer(yieldBound)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// roundWaiters is a shard's side of the yield points: the handshakes
// parked until it has run a round, and when it will have.
type roundWaiters struct {
	mu     sync.Mutex
	wake   chan struct{} // closed when the round has run; nil: nobody waits
	target uint64        // the loop's round count (Stats.Iterations) the wake waits for
	timer  *shard.Timer  // the next round's, for a wake that came too early; loop only
	fn     func()        // roundPassed, as a task; made once
}

// awaitRound returns a channel closed once the shard has dispatched the
// input it has waiting now, or nil if the shard is closed. The round that
// does it is the next one to poll: the one under way if it is still
// waiting for a P with its events, or the one after if it has dispatched
// them already (it gave its P up mid-round, in its yield). Any goroutine.
func (s *shardCtx) awaitRound() <-chan struct{} {
	st := s.loop.Stats()
	target := st.Iterations
	if st.Lag > 0 {
		target++ // mid-round: its events were dispatched before ours came
	}
	rw := &s.rounds
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.wake == nil {
		if s.loop.Submit(rw.fn) != nil {
			return nil
		}
		rw.wake = make(chan struct{})
	}
	rw.target = max(rw.target, target)
	return rw.wake
}

// roundPassed is the task awaitRound queues: it runs after its round's
// events, and wakes the handshakes waiting if that round was the one
// they wait for, or sets the shard's timer for the next round's (timers
// run after the events too). Loop only.
func (s *shardCtx) roundPassed() {
	rw := &s.rounds
	rw.mu.Lock()
	if rw.wake == nil {
		rw.mu.Unlock()
		return
	}
	if s.loop.Stats().Iterations < rw.target {
		rw.mu.Unlock()
		if rw.timer == nil {
			rw.timer = s.loop.AfterFunc(0, rw.fn)
		} else {
			rw.timer.Reset(0)
		}
		return
	}
	close(rw.wake)
	rw.wake = nil
	rw.mu.Unlock()
	s.yieldToWoken()
}

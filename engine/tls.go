package engine

import (
	"crypto/tls"
	"net"
	"time"
)

// TLS on the shards, with crypto/tls as it is (no fork, no unsafe, no
// linkname). A TLS connection goes through three phases:
//
//	hello ──first record whole──> handshake ──Handshake returned──> open
//	(the shard buffers;           (a goroutine, over a      (tls.Conn.Read and Write
//	 no goroutine yet)             blocking view; capped)    run on the shard)
//
// crypto/tls keeps a failed handshake's error for good, so a handshake
// cannot be resumed after "would block": it runs on a goroutine of its
// own, which parks on the connection (engine/internal/blocking) while the
// shard reads for it. A server's connection gets that goroutine only once
// the client's first record is whole, so a silent or slow peer costs a
// buffer and a timer, never a goroutine. While the handshake runs, the
// shard buffers what arrives for it, up to holdHandshakeInput, and leaves
// the rest in the kernel until the goroutine asks for more or the
// handshake is done (a peer may stream right behind its Finished).
//
// Once the handshake is done the goroutine lets go of the connection (it
// parks for the next handshake, or ends: tls_idle.go) and the record layer
// runs on the shard: tls.Conn.Read over an in-memory transport (tlsWire) that
// says "would block" with a temporary net.Error, which crypto/tls does not
// keep (TestCryptoTLSKeepsNoTemporaryError pins that), and tls.Conn.Write
// into the connection's outbound chain, through a transport Write that
// never fails (crypto/tls keeps write errors for good).
//
// The TLS state hangs off connExtra and is touched only on the shard once
// the handshake is over; a plaintext connection pays one flag test on the
// read, write and close paths.

// ListenTLS makes Listen serve TLS with cfg: the handshake runs before
// OnOpen, and the handler reads and writes plaintext through the same
// Conn methods. cfg is crypto/tls's own (certificates, GetCertificate for
// SNI, NextProtos for ALPN, ClientAuth, session tickets, versions) and
// must not be changed once in use. Listen fails with ErrInvalidOption if
// cfg has no way to find a certificate. With a WithHandshakeShare below
// 1 the handshakes run with a copy of cfg (Clone, at Listen) whose
// GetConfigForClient and GetCertificate are the engine's: they call cfg's
// own, choose the certificate as crypto/tls would from cfg, and hand
// crypto/tls the certificate with its key wrapped (still a crypto.Signer,
// and a crypto.Decrypter if the key is one), so that a handshake can stop
// for the shards between the parts of its computation; session ticket
// keys set on cfg before Listen are kept, automatic ones are the copy's
// own. Otherwise they run with cfg itself.
func ListenTLS(cfg *tls.Config) ListenOption {
	return func(lc *listenConfig) { lc.tls = cfg }
}

// DialTLS makes Dial run a TLS client handshake with cfg once connected:
// the callback gets the connection after the handshake (and OnOpen), or
// the handshake's error. A cfg without ServerName gets, in a copy, the
// host of the dialed address, for the certificate check and SNI.
func DialTLS(cfg *tls.Config) DialOption {
	return func(dc *dialConfig) { dc.tls = cfg }
}

// WithMaxHandshakes caps the TLS handshakes in progress at once over the
// whole engine. Each takes a goroutine (a handshake mostly waits a round
// trip for the peer, so a small pool would sit idle; a goroutine whose
// handshake ended parks, up to 32 of them, and takes the next handshake
// instead of a new one, tls_idle.go; WithHandshakeCPU
// bounds how many compute at once, WithHandshakeShare for how long). Once
// the cap is reached, or new handshakes have waited half the handshake
// timeout for the CPU, new TLS connections are reset at accept, before any Conn is made (so no
// OnHandshakeFail), and counted in Stats.TLSRefused; one accepted below
// the cap whose ClientHello completes past it is aborted (its reason wraps
// ErrTLSBusy) and counted there too. While it refuses, the acceptor stops
// accepting on that listener after every 64 refusals (resets at accept
// and ErrTLSBusy aborts together, the next time it resets one), for 1 ms
// doubling to 128 ms while the refusals go on: connections arriving
// meanwhile wait in the kernel's backlog (past it the kernel drops their
// SYNs and the clients retry), and are reset in turn, 64 per pause, if
// the engine still refuses when it takes them; so a flood costs the
// shards at most 64 resets at accept per pause instead of one per connection.
// A shard starts at most 16 handshakes per millisecond; a ClientHello past
// that waits for the next millisecond, buffered and counted in the cap, so
// a backlog of them taken at once does not hold the shard (tls_admit.go).
// And while every CPU slot is taken (WithHandshakeCPU), or handshakes
// wait to start, or connections it took wait for their shard's first
// poll, the acceptor takes new TLS connections only as handshakes start
// (at most 32 waiting, those taken and not yet polled included, per
// millisecond): those it leaves wait in
// the kernel's backlog, where past its length the kernel drops their SYNs
// and counts them (ListenOverflows, in nstat), so a flood the engine paces
// shows there rather than in Stats.TLSRefused.
// Default 4096.
func WithMaxHandshakes(n int) Option { return func(c *config) { c.maxHandshakes = n } }

// WithHandshakeTimeout bounds a TLS handshake, counted from when the
// connection joined its shard: past it the connection is closed with a
// timeout error (errors.Is(err, ErrTimeout)). Default 5 s.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTime = d }
}

// HandshakeFailNotifier is implemented by handlers that want to hear of
// TLS connections that closed before their handshake was done, and of
// connections of a ListenProxyProto listener that closed before their
// PROXY header was read: OnOpen never ran for them, so OnClose does not
// either. It is optional: the engine looks for it when such a connection
// closes.
type HandshakeFailNotifier interface {
	// OnHandshakeFail runs on the shard once the connection is closed,
	// with the reason: an error wrapping ErrTLS and crypto/tls's error,
	// one wrapping ErrProxyHeader (and proxyproto's sentinel, or
	// ErrTimeout), a timeout, ErrTLSBusy, ErrEngineStopped, or the
	// socket's error.
	OnHandshakeFail(c *Conn, reason error)
}

// TLS returns the connection's TLS state and true once its handshake is
// done, or false for a plaintext connection. Loop only.
func (c *Conn) TLS() (tls.ConnectionState, bool) {
	if c.flags&flagTLS == 0 || c.extra.tls.phase != tlsOpen {
		return tls.ConnectionState{}, false
	}
	return c.extra.tls.conn.ConnectionState(), true
}

// tlsPhase is where a TLS connection is (see the diagram above).
type tlsPhase uint8

const (
	tlsHello     tlsPhase = iota // server: the shard buffers the client's first record
	tlsHandshake                 // the handshake runs on its goroutine
	tlsOpen                      // records are read and written on the shard
)

// tlsConn is a TLS connection's state. Loop only, except wire's fields
// that say otherwise. Every idle TLS connection holds one: what only the
// handshake needs is in handshakeState, dropped once it is done, so that
// this stays within the allocator's 128-byte class (TestTLSConnSize).
type tlsConn struct {
	conn       *tls.Conn
	wire       tlsWire
	plain      []byte // plaintext written since the last seal (pooled); sealed at the flush
	failure    error  // why a close for a TLS error began (closeFailed)
	phase      tlsPhase
	peerClosed bool // the peer's close_notify was read
	truncated  bool // the peer's EOF came without close_notify
	more       bool // records may wait in the wire or crypto/tls after a pause
	holdRead   bool // the handshake has input enough buffered: the socket waits (see tlsHello)
	queued     bool // the ClientHello waits for a window to start its handshake (tls_admit.go)
}

// tlsConnOf returns c's TLS state, or nil for a plaintext connection.
func (c *Conn) tlsConnOf() *tlsConn {
	if c.flags&flagTLS == 0 {
		return nil
	}
	return c.extra.tls
}

// hostOf returns the host of a "host:port" address, for ServerName.
func hostOf(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return ""
	}
	return host
}

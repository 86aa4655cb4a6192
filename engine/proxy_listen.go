package engine

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/codec/proxyproto"
)

// A PROXY protocol listener (ListenProxyProto) reads the header a layer-4
// balancer puts before the client's bytes, on the shard, before anything
// else happens to the connection:
//
//	header ──whole──> (TLS listener: hello, handshake, see tls.go) ──> open
//	(the shard reads and parses;
//	 no OnOpen, no goroutine)
//
// While the header is read the connection has neither flagOpened nor
// flagTLS, which readReady's one mask test sends here; an opened
// plaintext connection pays nothing more than before. The header's bound
// is the connection's timer (handshakeDL, WithHandshakeTimeout); a TLS
// listener's handshake gets a bound of its own once the header is read.
//
// The shard is picked at accept, before the header is read: a balancer
// that hashes the peer's address (balancer.SourceHash) sees the PROXY
// sender's address, not the client's.

// ErrProxyHeader is wrapped in the close reason of a connection whose
// PROXY protocol header was missing (on a listener that requires one),
// malformed, cut short by the peer's EOF, or too slow: the reason also
// wraps proxyproto's sentinel (proxyproto.ErrNoHeader, ErrMalformed,
// ErrTooLong, ErrUnsupported, ErrChecksum) or ErrTimeout.
var ErrProxyHeader = errors.New("engine: PROXY protocol header")

// ListenProxyProto makes the listener read a PROXY protocol header
// (version 1 or 2, codec/proxyproto) at the start of every connection,
// before OnOpen and, on a TLS listener, before the TLS handshake (the
// header comes first on the wire). Conn.RemoteAddr and LocalAddr then
// return the addresses the header carries: the client and the address it
// reached. A version 2 LOCAL header or a version 1 UNKNOWN one (a
// balancer's health check) keeps the socket's own addresses; TLVs are
// skipped.
//
// With required, a connection whose first bytes are not a header is
// closed; without, such a connection is served as it is, with the
// socket's addresses (a mixed setup during a migration; the peer must
// speak first, and a first message shorter than a header's signature
// that matches its start waits for more). A malformed header closes the
// connection either way. The header must arrive within
// WithHandshakeTimeout. A connection that closes before its header is
// read never reaches OnOpen; a handler that implements
// HandshakeFailNotifier hears of it there, with a reason wrapping
// ErrProxyHeader, and Stats.ProxyFailed counts it.
//
// The shard is picked when the connection is accepted, before its header
// is read: a balancer that hashes the peer's address (source hash) sees
// the address of the PROXY sender, not the client's. Only put this on
// listeners that trusted balancers alone can reach: the header is
// believed as it is.
func ListenProxyProto(required bool) ListenOption {
	return func(lc *listenConfig) { lc.proxy = &proxyListen{required: required} }
}

// proxyListen is a PROXY listener's setting, shared by its connections.
type proxyListen struct {
	required bool
}

// proxyIn is a connection's PROXY state: the header being read, then the
// addresses it gave. Loop only.
type proxyIn struct {
	cfg      *proxyListen
	tls      *tls.Config // the listener's, started once the header is read
	rate     *listenRate // the listener's rate limits, applied once the header is read
	buf      []byte      // the header's bytes so far, when it came in pieces
	reading  bool        // the header is not read yet
	pending  bool        // bytes that came behind the header wait in the inbound ring for OnTraffic
	src, dst net.Addr    // the header's addresses; nil: the socket's
}

// errProxyTimeout is the close reason of a header that did not arrive in
// time: errors.Is matches ErrProxyHeader and ErrTimeout.
var errProxyTimeout error = &wrapError{ErrProxyHeader, &timeoutError{"PROXY header"}}

// errProxyEOF is the close reason when the peer closed before its header
// was whole.
var errProxyEOF error = &wrapError{ErrProxyHeader, ErrPeerClosed}

// registerProxy makes a Conn of an accepted fd of a PROXY listener: it
// waits on the shard for the header, under the handshake timeout, and is
// opened (or starts its TLS handshake) only once the header is read.
// Loop only.
// lr, if not nil, is the listener's rate limits, which apply once the
// header is read.
func (s *shardCtx) registerProxy(fd int, h Handler, isUnix bool, pl *proxyListen, tcfg *tls.Config, lr *listenRate) *Conn {
	c := s.enter(fd, h, isUnix)
	if c.state == stateClosed {
		return c
	}
	c.rares().proxy = &proxyIn{cfg: pl, tls: tcfg, rate: lr, reading: true}
	c.extra.handshakeDL = s.loop.Now() + s.e.cfg.handshakeTime
	c.armTimer()
	return c
}

// proxyReading reports whether c is still reading its PROXY header.
func (c *Conn) proxyReading() bool {
	px := c.proxyIn()
	return px != nil && px.reading
}

// proxyIn returns c's PROXY header state, or nil.
func (c *Conn) proxyIn() *proxyIn {
	if r := c.rare(); r != nil {
		return r.proxy
	}
	return nil
}

// proxyReadReady reads the PROXY header: to EAGAIN while it is not whole
// (it is short, and an edge-triggered connection must drain its socket),
// then hands the connection on with the bytes that followed it. Loop
// only, while the header is read and the connection is open.
func (c *Conn) proxyReadReady(px *proxyIn) {
	s := c.sh
	for {
		n, err := rawRead(int(c.fd), s.readBuf)
		switch {
		case err == syscall.EAGAIN:
			return
		case err != nil:
			c.closeNow(&wrapError{ErrProxyHeader, wrapSyscall("read", err)})
			return
		case n == 0:
			c.closeNow(errProxyEOF)
			return
		}
		s.bytesIn.Add(uint64(n))
		b := s.readBuf[:n]
		if len(px.buf) > 0 {
			px.buf = append(px.buf, b...)
			b = px.buf
		}
		h, hn, perr := proxyproto.Parse(b)
		switch {
		case errors.Is(perr, codec.ErrNeedMore):
			// A valid prefix: Parse bounds it by the longest header, so
			// what is kept here stays small.
			if len(px.buf) == 0 {
				px.buf = append([]byte(nil), b...)
			}
			continue
		case errors.Is(perr, proxyproto.ErrNoHeader) && !px.cfg.required:
			c.proxyDone(px, proxyproto.Header{}, b)
		case perr != nil:
			c.closeNow(&wrapError{ErrProxyHeader, perr})
		default:
			c.proxyDone(px, h, b[hn:])
		}
		return
	}
}

// proxyDone ends the header phase: it keeps the header's addresses and
// either starts TLS with the bytes that followed the header or opens the
// connection and hands them to OnTraffic. Loop only.
func (c *Conn) proxyDone(px *proxyIn, h proxyproto.Header, rest []byte) {
	s := c.sh
	px.reading = false
	if h.Relayed() {
		px.src, px.dst = h.Addrs()
	} else if px.tls != nil || len(rest) == 0 {
		c.extra.rare.proxy = nil // the socket's addresses stand: nothing to keep
	}
	c.extra.handshakeDL = 0
	defer func() { px.buf = nil }() // rest may lie in it
	if lr := px.rate; lr != nil {
		px.rate = nil
		c.applyListenRate(lr)
	}
	if px.tls != nil {
		tc := c.beginTLS()
		tc.conn = tls.Server(tc.transport(), px.tls)
		px.tls = nil
		if len(rest) > 0 {
			c.tlsHello(tc, rest)
		}
		return
	}
	// The bytes that came behind the header were read from the socket
	// already: they wait in the inbound ring, where the handler finds them
	// (Buffered) and where the next read appends, and OnTraffic gets them
	// once the handler reads, which OnOpen may have paused (a relay does
	// until its backend is connected).
	if len(rest) > 0 {
		if _, err := c.bufs().in.Write(rest); err != nil {
			c.closeNow(&wrapError{ErrInboundFull, err})
			return
		}
		px.pending = true
	}
	c.startTimers()
	c.armTimer()
	c.flags |= flagOpened
	if err := c.open(c.h); err != nil {
		c.reject(err)
	}
	c.deliverPending()
	if s.e.cfg.edge && c.wantRead() {
		// The read that completed the header may have left bytes in the
		// socket, and no new edge reports them.
		s.requeueRead(c)
	}
}

// deliverPending hands the bytes that came behind the header to
// OnTraffic, unless the handler does not read now: then ResumeRead comes
// back here (readResumed). Loop only.
func (c *Conn) deliverPending() {
	px := c.proxyIn()
	if px == nil || !px.pending || c.state != stateOpen || !c.wantRead() {
		return
	}
	px.pending = false
	if px.src == nil {
		c.extra.rare.proxy = nil
	}
	if c.inLen() == 0 {
		return // the handler took them (Next on Buffered bytes) meanwhile
	}
	now := c.sh.loop.Now()
	c.extra.last, c.extra.lastRead = now, now
	c.h.OnTraffic(c)
	if c.state != stateClosed && c.inLen() == 0 {
		c.releaseIn()
	}
}

// proxyResumed runs when a connection's reading resumes: bytes that came
// behind its PROXY header and were not delivered yet (OnOpen paused) get
// their OnTraffic in a task of their own, not inside ResumeRead, whose
// caller is handler code. Loop only.
func (c *Conn) proxyResumed() {
	if px := c.proxyIn(); px != nil && px.pending && c.wantRead() {
		if c.sh.loop.Submit(func() {
			defer c.sh.flushDirty()
			defer c.recoverPanic()
			c.deliverPending()
		}) != nil {
			return // the shard is stopping: Stop closes the connection
		}
	}
}

// proxyNeverOpened tells the handler, if it listens (HandshakeFailNotifier),
// that a connection closed before its PROXY header was read. Loop only,
// from closeNow.
func (c *Conn) proxyNeverOpened(reason error) {
	c.sh.e.proxyFailed.Add(1)
	if n, ok := c.h.(HandshakeFailNotifier); ok {
		defer c.containPanic("OnHandshakeFail")
		n.OnHandshakeFail(c, reason)
	}
}

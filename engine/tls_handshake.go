package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shardnet/shardnet/engine/internal/blocking"
)

// registerTLS makes a Conn of a TLS listener's accepted fd: it waits on
// the shard for the client's first record, under the handshake timeout,
// and is opened (OnOpen) only once the handshake is done. Loop only.
// lr, if not nil, is the listener's rate limits, which apply at once.
func (s *shardCtx) registerTLS(fd int, h Handler, isUnix bool, cfg *tls.Config, lr *listenRate) *Conn {
	s.noteRegistered() // the acceptor counted it in transit (handoffTLS)
	c := s.enter(fd, h, isUnix)
	if c.state == stateClosed {
		return c
	}
	if lr != nil {
		c.applyListenRate(lr)
	}
	tc := c.beginTLS()
	tc.conn = tls.Server(tc.transport(), cfg)
	return c
}

// dialTLS starts the client handshake of a connection DialTLS made; cb
// gets it once the handshake is done (after OnOpen), or the error. Loop
// only.
func (s *shardCtx) dialTLS(fd int, h Handler, isUnix bool, cfg *tls.Config, cb func(*Conn, error)) {
	c := s.enter(fd, h, isUnix)
	if c.state == stateClosed {
		cb(nil, fmt.Errorf("engine: dial: %w", ErrConnClosed))
		return
	}
	tc := c.beginTLS()
	tc.conn = tls.Client(tc.transport(), cfg)
	tc.wire.hs.dialCB = cb
	c.admitHandshake() // the client speaks first
}

// handshakeState is what a TLS connection holds only until its handshake
// is done: beginTLS makes it, handshakeDone drops it once the goroutine
// has returned, so an open connection does not carry it. A connection
// that closes before it opens keeps it until the Conn goes.
type handshakeState struct {
	mu   sync.Mutex    // guards the wire's in and off until onLoop, and end and held
	gate blocking.Gate // where the handshake goroutine parks for input
	end  error         // guarded by mu: why the handshake's reads and writes end (the connection closed)
	held bool          // guarded by mu: the shard stopped reading for the handshake (holdRead)
	slot bool          // the handshake goroutine holds a CPU slot; its goroutine only
	took time.Duration // when it took the slot (cpuSlots' clock); its goroutine only
	err  error         // the handshake's result, set by its goroutine before doneFn's task
	// The certificate of a server's handshake, its key wrapped so that
	// signing is a yield point (keep, tls_yield.go). Its goroutine only.
	cert      tls.Certificate
	signer    yieldSigner
	decrypter yieldDecrypter
	// dialCB is DialTLS's callback. Loop only.
	dialCB   func(*Conn, error)
	doneFn   func() // the handshake's end, as a task
	resumeFn func() // the handshake wants input again, as a task
}

// beginTLS gives a new connection its TLS state and arms the handshake
// timeout.
func (c *Conn) beginTLS() *tlsConn {
	s := c.sh
	hs := &handshakeState{
		doneFn:   func() { c.handshakeDone() },
		resumeFn: func() { c.handshakeWantsInput() },
	}
	tc := &tlsConn{wire: tlsWire{c: c, hs: hs}}
	ct := c.extras()
	ct.tls = tc
	c.flags |= flagTLS
	ct.handshakeDL = s.loop.Now() + s.e.cfg.handshakeTime
	c.startTimers()
	c.armTimer()
	return tc
}

// tlsHello takes ciphertext that arrived before the handshake is done:
// the shard buffers it for the handshake's goroutine, starts that
// goroutine once a server's first record (the ClientHello) is whole, and
// stops reading the socket while holdHandshakeInput bytes wait untaken.
// Loop only.
func (c *Conn) tlsHello(tc *tlsConn, b []byte) {
	if tc.wire.feed(b) {
		tc.holdRead = true
		c.updateInterest()
	}
	if tc.phase == tlsHello && !tc.queued && tc.wire.firstRecordWhole() {
		c.admitHandshake()
	} else if tc.phase == tlsHandshake {
		c.sh.yieldToWoken() // the goroutine may be waiting for these bytes
	}
}

// handshakeWantsInput runs on the shard when the handshake's goroutine
// has taken all the input held for it and needs more. Loop only.
func (c *Conn) handshakeWantsInput() {
	tc := c.extra.tls
	if c.state == stateClosed || !tc.holdRead {
		return
	}
	tc.holdRead = false
	c.updateInterest()
}

// startHandshake gives the handshake its goroutine; admitHandshake has
// counted it in WithMaxHandshakes. Loop only.
func (c *Conn) startHandshake() {
	s := c.sh
	e := s.e
	tc := c.extra.tls
	tc.phase = tlsHandshake
	// A goroutine parked after an earlier handshake takes it (tls_idle.go),
	// else a new one.
	if !e.hsIdle.handOff(tc) {
		e.handshakes.Add(1)
		go e.runHandshakes(tc)
	}
	// Without a spare P the goroutine would wait for sysmon to take the
	// sleeping shard's P; the shard's yield (yield.go) runs it at once,
	// and gets the P back when it parks for the peer or a CPU slot.
	s.yieldToWoken()
}

// handshake runs crypto/tls's handshake over the blocking wire, then
// tells the shard. A handshake goroutine (runHandshakes).
func (tc *tlsConn) handshake() {
	s := tc.wire.c.sh
	e := s.e
	hs := tc.wire.hs
	hs.took = e.hsCPU.acquire(false)
	hs.slot = true
	// A connection that closed while it waited for its slot (its peer
	// gave up, the timeout) costs no computation.
	err := tc.wire.ended()
	if err == nil {
		err = tc.conn.Handshake()
	}
	if hs.slot {
		e.hsCPU.release(hs.took)
		hs.slot = false
	}
	e.tlsInFlight.Add(-1)
	hs.err = err // read by doneFn, which the task queue orders after this
	if s.loop.Submit(hs.doneFn) != nil {
		// The shard is gone (the engine stopped): Stop closed the
		// connection, and nobody waits for this result.
		return
	}
}

// handshakeDone runs on the shard when the handshake's goroutine has
// returned: the connection opens (OnOpen, then DialTLS's callback) and
// the records that came with the handshake's last flight are read, or it
// closes with crypto/tls's error. Loop only.
func (c *Conn) handshakeDone() {
	defer c.sh.flushDirty()
	tc := c.extra.tls
	if c.state != stateOpen {
		return // closed or closing meanwhile (timeout, reset, Stop, an error): already reported
	}
	hs := tc.wire.hs
	if hs.err != nil {
		c.tlsFail(tc, hs.err)
		return
	}
	defer c.recoverPanic()
	tc.wire.onLoop = true
	tc.phase = tlsOpen
	c.sh.e.tlsDone.Add(1)
	if tc.holdRead {
		tc.holdRead = false
		c.updateInterest()
	}
	c.extra.handshakeDL = 0
	c.armTimer()
	c.flags |= flagOpened
	// The handshake's goroutine has returned (its last act posted this
	// task) and the connection counts as opened (a close now reports
	// OnClose, not tlsNeverOpened): what only the handshake used goes, so
	// that an idle connection keeps no more of ours than it needs.
	tc.wire.hs = nil
	if err := c.open(c.h); err != nil {
		c.reject(err)
	}
	if cb := hs.dialCB; cb != nil {
		hs.dialCB = nil
		switch {
		case c.state == stateOpen:
			cb(c, nil)
		case c.rejection() != nil:
			cb(nil, fmt.Errorf("engine: dial: %w", c.rejection()))
		default:
			cb(nil, fmt.Errorf("engine: dial: connection closed during OnOpen: %w", ErrConnClosed))
		}
	}
	if c.state == stateOpen {
		c.markDirty() // what OnOpen or the callback wrote, sealed at the flush
		c.tlsDecrypt(tc)
	}
}

// tlsFail closes a TLS connection for crypto/tls's error err: gracefully,
// so that the alert crypto/tls queued reaches the peer, with a reason
// wrapping ErrTLS and err. Loop only.
func (c *Conn) tlsFail(tc *tlsConn, err error) {
	if c.state != stateOpen {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("the peer closed the connection: %w", err)
	}
	tc.failure = &wrapError{ErrTLS, err}
	c.sh.pool.Put(tc.plain) // no more records after an error
	tc.plain = nil
	if tc.phase != tlsOpen {
		tc.wire.finish(tc.failure) // a handshake still running ends with it
	}
	c.closeGracefully(closeFailed)
}

// tlsClosed runs in closeNow: it ends the handshake's goroutine if one
// runs, frees the TLS buffers, says in the reason when the stream was
// truncated, and reports a connection that never opened. It returns the
// reason to give. Loop only.
func (c *Conn) tlsClosed(tc *tlsConn, reason error) error {
	if tc.phase != tlsOpen {
		tc.wire.finish(fmt.Errorf("%w: %w", ErrConnClosed, reason))
	}
	tc.wire.release()
	c.sh.pool.Put(tc.plain)
	tc.plain = nil
	if tc.truncated && (errors.Is(reason, ErrPeerClosed) || errors.Is(reason, ErrLocalClose)) {
		reason = fmt.Errorf("%w (%w)", ErrTLSTruncated, reason)
	}
	return reason
}

// tlsNeverOpened tells whoever waits that a TLS connection closed before
// its handshake was done: the DialTLS callback, or the handler's
// OnHandshakeFail. Loop only, from closeNow, once the connection is out of
// the tables.
func (c *Conn) tlsNeverOpened(tc *tlsConn, reason error) {
	c.sh.e.tlsFailed.Add(1)
	if hs := tc.wire.hs; hs != nil && hs.dialCB != nil {
		cb := hs.dialCB
		hs.dialCB = nil
		cb(nil, fmt.Errorf("engine: dial: %w", reason))
		return
	}
	if n, ok := c.h.(HandshakeFailNotifier); ok {
		defer c.containPanic("OnHandshakeFail")
		n.OnHandshakeFail(c, reason)
	}
}

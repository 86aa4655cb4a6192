package engine

import (
	"errors"
	"fmt"
)

// closeCode is why a graceful close began; it becomes OnClose's reason.
type closeCode uint8

const (
	closeLocal    closeCode = iota // Close from the application
	closePeer                      // the peer's EOF came first
	closeStopped                   // Engine.Stop
	closeRejected                  // OnOpen returned an error (kept in connRare)
	closeFailed                    // a TLS error (kept in the TLS state)
)

// errFailedClose is closeFailed's placeholder reason: closeNow puts the
// TLS error in (see rejection).
var errFailedClose = errors.New("engine: closed for an error")

func (k closeCode) err() error {
	switch k {
	case closePeer:
		return ErrPeerClosed
	case closeStopped:
		return ErrEngineStopped
	case closeRejected:
		return ErrRejected // closeNow puts the handler's error in (see rejection)
	case closeFailed:
		return errFailedClose
	}
	return ErrLocalClose
}

// Close closes the connection gracefully: queued output is sent, then the
// write side is shut down (the peer reads EOF), then input is read and
// dropped until the peer's EOF, and only then is the fd closed; the linger
// timeout (WithLingerTimeout) bounds all of it. Closing at once with unread input would make Linux send a reset
// and drop what it had not sent yet. OnClose runs when the fd is closed.
// Close returns nil; closing a closed connection does nothing. Loop only.
func (c *Conn) Close() error {
	c.closeGracefully(closeLocal)
	return nil
}

// CloseWrite half-closes: queued output is sent, then shutdown(SHUT_WR).
// Reading goes on until the peer closes; writes after CloseWrite fail with
// ErrConnClosed. Loop only.
func (c *Conn) CloseWrite() error {
	if c.state != stateOpen {
		return ErrConnClosed
	}
	if c.flags&(flagShutPend|flagWriteShut) != 0 {
		return nil
	}
	if tc := c.tlsConnOf(); tc != nil {
		// close_notify first, after the plaintext written before it.
		if !c.tlsCloseNotify(tc) {
			return fmt.Errorf("%w: CloseWrite before the TLS handshake is done", ErrNotForTLS)
		}
		if c.state != stateOpen {
			return ErrConnClosed
		}
	}
	c.flags |= flagShutPend
	if c.outLen() == 0 && c.flags&flagWantWrite == 0 {
		c.shutWrite()
	}
	return nil
}

// Abort closes at once: queued output is dropped and the peer sees a reset
// (SO_LINGER 0). OnClose runs with ErrAborted. Loop only.
func (c *Conn) Abort() {
	c.abortWith(ErrAborted)
}

// AbortWith is Abort with a reason of the handler's own: OnClose's reason
// wraps both ErrAborted and err, so a protocol layer on the engine can say
// why it cut a connection (a frame that lied about its length, say). A nil
// err is Abort. Loop only.
func (c *Conn) AbortWith(err error) {
	if err == nil {
		c.Abort()
		return
	}
	c.abortWith(fmt.Errorf("%w: %w", ErrAborted, err))
}

func (c *Conn) abortWith(reason error) {
	if c.state == stateClosed {
		return
	}
	setLingerZero(int(c.fd))
	c.closeNow(reason)
}

func (c *Conn) closeGracefully(code closeCode) {
	if c.state != stateOpen {
		return
	}
	if tc := c.tlsConnOf(); tc != nil && code != closeFailed {
		// close_notify goes before the FIN. Before the handshake is done
		// there is no session to end, and nothing to send. (A close for a
		// TLS error sends only the alert crypto/tls queued already.)
		if !c.tlsCloseNotify(tc) {
			c.closeNow(code.err())
			return
		}
		if c.state != stateOpen {
			return
		}
	}
	c.state = stateClosing
	c.closeCode = code
	if c.peerDone() && code == closeLocal {
		c.closeCode = closePeer
	}
	c.dropView()
	c.releaseIn()
	c.flags &^= flagUserPaused
	if c.flags&flagReadEOF != 0 && c.outLen() == 0 && c.flags&flagWantWrite == 0 {
		// Nothing left to send or to wait for: the close ends now, and
		// a linger deadline would cost a connExtra and a timer for
		// nothing (a relay closing both sides of a short connection).
		c.shutWriteThenLinger()
		return
	}
	// The linger timeout bounds the whole close, the flush included: a
	// peer that never reads (or never opens its window) cannot keep a
	// closing connection, and its queued output, forever.
	c.extras().lingerDL = c.sh.loop.Now() + c.sh.e.cfg.lingerTimeout
	c.armTimer()
	if c.outLen() == 0 && c.flags&flagWantWrite == 0 {
		c.shutWriteThenLinger()
		return
	}
	// flush, or the EPOLLOUT that is armed, ends in drained, which comes
	// back to shutWriteThenLinger.
	c.updateInterest()
	if c.flags&flagWantWrite == 0 {
		c.markDirty()
	}
}

// shutWrite sends the FIN after the queued output.
func (c *Conn) shutWrite() {
	c.flags &^= flagShutPend
	if c.flags&flagWriteShut != 0 {
		return
	}
	c.flags |= flagWriteShut
	if err := shutdownWrite(int(c.fd)); err != nil {
		c.closeNow(err)
	}
}

// shutWriteThenLinger is the second half of a graceful close.
func (c *Conn) shutWriteThenLinger() {
	if c.flags&flagReadEOF != 0 {
		// The peer's FIN has been read, so nothing is left unread and
		// close(2) sends our FIN itself: a shutdown first would be a
		// syscall that changes nothing on the wire.
		c.flags &^= flagShutPend
		c.flags |= flagWriteShut
		c.finishClose()
		return
	}
	c.shutWrite()
	if c.state == stateClosed {
		return
	}
	if c.peerDone() {
		c.finishClose()
		return
	}
	if ct := c.extras(); ct.lingerDL == 0 {
		ct.lingerDL = c.sh.loop.Now() + c.sh.e.cfg.lingerTimeout
		c.armTimer()
	}
	c.updateInterest()
}

// peerDone reports whether the peer has said it sends no more: its EOF,
// or on a TLS connection its close_notify, after which nothing may come
// (so closing the fd sends no reset over unread bytes).
func (c *Conn) peerDone() bool {
	return c.flags&flagReadEOF != 0 || c.flags&flagTLS != 0 && c.extra.tls.peerClosed
}

// finishClose ends a graceful close once the peer's EOF has been read.
func (c *Conn) finishClose() {
	c.closeNow(c.closeCode.err())
}

// rejection returns the error a close begun for a reason of its own ends
// with: ErrRejected wrapping the error OnOpen refused the connection with,
// or ErrTLS wrapping a TLS error (closeFailed); nil for any other close.
func (c *Conn) rejection() error {
	switch {
	case c.extra == nil:
		return nil
	case c.closeCode == closeRejected:
		return c.extra.rare.rejection
	case c.closeCode == closeFailed:
		return c.extra.tls.failure
	}
	return nil
}

// reject closes a connection whose OnOpen returned err the way Close does,
// so what OnOpen wrote before refusing (a "503" or a "server busy" line)
// reaches the peer; OnClose then gets err wrapped in ErrRejected.
func (c *Conn) reject(err error) {
	if c.state != stateOpen {
		return // OnOpen closed or aborted it itself
	}
	c.rares().rejection = &wrapError{ErrRejected, err}
	c.closeGracefully(closeRejected)
}

// closeNow closes the fd and tells the handler. Queued output is dropped:
// AsyncWrite callbacks for it get ErrConnClosed, and the peer gets a reset
// instead of a FIN, so it cannot mistake the cut stream for a whole one.
func (c *Conn) closeNow(reason error) {
	if c.state == stateClosed {
		return
	}
	if c.state == stateClosing && c.closeCode == closeStopped && reason != ErrEngineStopped {
		// Stop's close ended another way (the linger timeout, a reset):
		// the reason still says the engine stopped, first.
		reason = fmt.Errorf("%w (%w)", ErrEngineStopped, reason)
	}
	c.state = stateClosed
	c.flags &^= flagWantWrite // nothing waits for EPOLLOUT now; lets returnBufs recycle
	if c.flags&flagRated != 0 {
		c.rateClosed()
	}
	s := c.sh
	if c.extra != nil {
		c.extra.t.Stop()
	}
	// The close below takes the socket out of the epoll set: the engine
	// made the fd (accept4, socket) or was given it to own (Enroll,
	// EnrollFd), and Fd is for socket options, so no copy of it is left
	// open that would keep it registered. Forget also cancels the delete
	// of an fd that updateInterest parked earlier in the round.
	s.loop.Forget(int(c.fd))
	c.flags &^= flagWatched
	if c.outLen() > 0 && c.flags&flagWriteShut == 0 {
		// Output is dropped before our FIN went out (a linger or write
		// timeout, say): a FIN now would tell the peer it has everything.
		// A reset tells it the stream was cut.
		setLingerZero(int(c.fd))
	}
	closeFd(int(c.fd))
	c.dropView()
	// Out of the tables first: what follows runs handler code (releases,
	// OnClose), which must not leave a closed connection counted live.
	s.forget(c)
	if c.buf != nil {
		// The Conn keeps its buffers until the entry point ends
		// (returnBufs): the handler may still hold slices of them.
		c.buf.in.Release()
		c.dropOut()
	}
	if rej := c.rejection(); rej != nil {
		if reason == ErrRejected || reason == errFailedClose {
			reason = rej // the rejection's close ended as planned
		} else {
			// Ended by a timeout or an error instead: say both.
			reason = fmt.Errorf("%w (%w)", rej, reason)
		}
	}
	tc := c.tlsConnOf()
	if tc != nil {
		reason = c.tlsClosed(tc, reason)
	}
	c.runDroppedReleases()
	switch {
	case c.flags&flagOpened != 0:
		c.callOnClose(reason)
	case tc != nil:
		c.tlsNeverOpened(tc, reason)
	case c.proxyReading():
		c.proxyNeverOpened(reason)
	}
}

// runDroppedReleases runs the release hooks of the output a close dropped
// (with false), unless a release already running up the stack will: hooks
// never nest (see runReleases).
func (c *Conn) runDroppedReleases() {
	c.sh.runReleases()
}

// callOnClose runs OnClose. The connection is already gone, so a panic there
// is only logged and counted: it must not escape into whatever closed the
// connection (Engine.Stop closing a whole shard, a flush of other
// connections).
func (c *Conn) callOnClose(reason error) {
	defer c.containPanic("OnClose")
	c.h.OnClose(c, reason)
}

// containPanic, deferred, logs and counts a panic in handler code that
// runs after the connection closed (where), instead of letting it escape.
func (c *Conn) containPanic(where string) {
	if v := recover(); v != nil {
		c.sh.panics.Add(1)
		c.sh.e.cfg.logger.Error("handler panic in "+where+"; connection already closed", "conn", c.id, "panic", v)
	}
}

package engine

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/shardnet/shardnet/buffer"
)

// errAfterCloseNotify is why a TLS connection closes when bytes arrive
// after the peer's close_notify: nothing may follow it.
var errAfterCloseNotify = errors.New("bytes after close_notify")

// tlsReadReady is readReady for a TLS connection: it reads ciphertext
// into the shard's read buffer and hands it to the handshake or, once the
// handshake is done, decrypts it on the shard and gives the plaintext to
// the handler as OnTraffic, through the same view and ring as plaintext.
// It reads at most budget bytes. Loop only.
func (c *Conn) tlsReadReady(tc *tlsConn, budget int) {
	s := c.sh
	if tc.more && c.state == stateOpen {
		// Records left waiting by a pause: they go before new bytes.
		if c.tlsDecrypt(tc); !c.wantRead() {
			return
		}
	}
	for budget > 0 && c.wantRead() {
		n, err := rawRead(int(c.fd), s.readBuf)
		switch {
		case err == syscall.EAGAIN:
			return
		case err != nil:
			c.closeNow(wrapSyscall("read", err))
			return
		case n == 0:
			c.tlsEOF(tc)
			return
		}
		budget -= n
		s.bytesIn.Add(uint64(n))
		if c.extra != nil {
			now := s.loop.Now()
			c.extra.last, c.extra.lastRead = now, now
		}
		b := s.readBuf[:n]
		switch {
		case c.state != stateOpen:
			// Closing: input is drained and dropped until the peer's EOF;
			// only bytes after its close_notify are an error.
			if tc.peerClosed {
				c.closeNow(&wrapError{ErrTLS, errAfterCloseNotify})
				return
			}
		case tc.phase != tlsOpen:
			c.tlsHello(tc, b)
		case tc.peerClosed:
			c.tlsFail(tc, errAfterCloseNotify)
			return
		default:
			tc.wire.setSrc(b)
			c.tlsDecrypt(tc)
			tc.wire.keepSrc() // before the read buffer is reused
		}
		if !s.e.cfg.edge {
			return // level-triggered: one read per report, as readReady
		}
	}
	if budget <= 0 && s.e.cfg.edge && c.wantRead() {
		s.requeueRead(c)
	}
}

// tlsDecrypt decrypts what the wire holds and hands the plaintext to the
// handler, until the wire runs dry, the handler pauses or closes, or the
// records fail. Loop only, once the handshake is done.
func (c *Conn) tlsDecrypt(tc *tlsConn) {
	s := c.sh
	tc.more = false
	for c.state == stateOpen && !tc.peerClosed {
		if !c.wantRead() {
			tc.more = true // ResumeRead comes back for the rest
			return
		}
		var n int
		var err error
		if l := c.inLen(); l <= len(s.readBuf)/2 {
			// Decrypt into the shard's scratch, behind what the handler
			// left unread before (see unreadTo), and let the handler see
			// it there, as readPlain does with the read buffer: only what
			// it leaves unread is copied into the connection's ring.
			if s.tlsPlain == nil {
				s.tlsPlain = make([]byte, len(s.readBuf))
			}
			l = c.unreadTo(s.tlsPlain)
			n, err = tc.fill(s.tlsPlain[l:])
			if n > 0 {
				s.plainIn.Add(uint64(n))
				c.viewFrom(s.tlsPlain[:l+n], l)
				c.h.OnTraffic(c)
				if !c.keepUnread() {
					return
				}
			}
		} else {
			in := &c.buf.in
			n, err = in.ReadWith(tc.fill)
			if errors.Is(err, buffer.ErrBufferFull) {
				c.closeNow(fmt.Errorf("%w (%d bytes)", ErrInboundFull, in.Len()))
				return
			}
			if n > 0 {
				s.plainIn.Add(uint64(n))
				if c.state == stateOpen {
					c.h.OnTraffic(c)
				}
			}
			if c.inLen() == 0 {
				c.releaseIn()
			}
		}
		if c.outLen() > 0 {
			c.markDirty() // crypto/tls answered something (a KeyUpdate, an alert)
		}
		switch {
		case err == nil:
		case err == errWouldBlock:
			return
		case err == io.EOF:
			c.tlsCloseNotified(tc)
			return
		default:
			c.tlsFail(tc, err)
			return
		}
	}
}

// fill decrypts into p until p is full or the wire has no whole record
// left, so that the records of one read reach the handler in one
// OnTraffic. It returns errWouldBlock when the wire ran dry, io.EOF at the
// peer's close_notify, or crypto/tls's error.
func (tc *tlsConn) fill(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := tc.conn.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
		if n < len(p) && !tc.wire.pending() {
			// A Read that left room took all crypto/tls had decrypted,
			// and it holds no ciphertext (the wire hands it one record
			// at a time): with the wire empty too, another Read would
			// only say errWouldBlock, and cost crypto/tls an allocation.
			return n, errWouldBlock
		}
	}
	return n, nil
}

// tlsCloseNotified handles the peer's close_notify: the handler's read EOF
// (OnReadEOF). The socket stays watched, so that bytes after the
// close_notify close the connection, and so that the peer's FIN is read.
// Loop only.
func (c *Conn) tlsCloseNotified(tc *tlsConn) {
	tc.peerClosed = true
	if tc.wire.pending() {
		c.tlsFail(tc, errAfterCloseNotify)
		return
	}
	c.h.OnReadEOF(c)
}

// tlsEOF handles the peer's TCP EOF. Before the handshake is done it ends
// the connection (the handshake's error, if it runs, says so); after a
// close_notify it is the end of a clean close; without one the stream was
// truncated, which the close reason will say, and the handler gets its
// read EOF as for plaintext. Loop only.
func (c *Conn) tlsEOF(tc *tlsConn) {
	switch {
	case c.state == stateOpen && tc.phase != tlsOpen:
		c.flags |= flagReadEOF
		c.updateInterest()
		if tc.phase == tlsHello {
			c.closeNow(&wrapError{ErrPeerClosed, errors.New("closed before the TLS handshake")})
			return
		}
		tc.wire.finish(io.ErrUnexpectedEOF) // the handshake fails with it, and says so
	case tc.peerClosed || c.state != stateOpen:
		c.flags |= flagReadEOF
		if c.state == stateClosing {
			c.finishClose()
			return
		}
		c.updateInterest()
	default:
		tc.truncated = true
		c.readEOF()
	}
}

// The write side. Plaintext written during a callback is gathered in
// plain and sealed into records when the connection flushes (the end of
// the callback, Flush, EPOLLOUT), so that a callback's small writes
// become few records; the records go to the outbound chain like any
// output. WriteOwned and AsyncWrite seal at once, so that their release
// can follow the ciphertext of their bytes in the chain.

// tlsQueue gathers plaintext for the next seal. Loop only.
func (c *Conn) tlsQueue(tc *tlsConn, b []byte) {
	tc.plain, _ = appendPooled(c.sh.pool, tc.plain, 0, b)
	c.markDirty()
}

// tlsQueueString is tlsQueue for a string.
func (c *Conn) tlsQueueString(tc *tlsConn, s string) {
	tc.plain, _ = growPooled(c.sh.pool, tc.plain, 0, len(s))
	tc.plain = append(tc.plain, s...)
	c.markDirty()
}

// tlsSeal encrypts the gathered plaintext into the outbound chain. It
// reports false if the connection closed. Loop only.
func (c *Conn) tlsSeal(tc *tlsConn) bool {
	if len(tc.plain) == 0 || tc.phase != tlsOpen {
		return c.state != stateClosed
	}
	_, err := tc.conn.Write(tc.plain)
	c.sh.plainOut.Add(uint64(len(tc.plain)))
	c.sh.pool.Put(tc.plain)
	tc.plain = nil
	if err != nil {
		// The wire never fails, so this is crypto/tls refusing (a write
		// after its close_notify): a bug of ours, but the connection's
		// alone.
		c.closeNow(&wrapError{ErrTLS, err})
		return false
	}
	return true
}

// tlsSealOwned seals the gathered plaintext at once into a block of its
// own, queued with release: release then runs when the kernel has taken
// the ciphertext of those bytes, or when the connection drops it. Loop
// only, once the handshake is done.
func (c *Conn) tlsSealOwned(tc *tlsConn, release func(sent bool)) {
	s := c.sh
	s.tlsOwnedOf = c
	_, err := tc.conn.Write(tc.plain)
	s.tlsOwnedOf = nil
	s.plainOut.Add(uint64(len(tc.plain)))
	s.pool.Put(tc.plain)
	tc.plain = nil
	ct := s.tlsOwned
	s.tlsOwned = nil
	if err != nil {
		c.sh.pool.Put(ct)
		c.closeNow(&wrapError{ErrTLS, err})
		if release != nil {
			release(false)
		}
		return
	}
	pool := c.sh.pool
	c.queueOwned(ct, func(sent bool) {
		pool.Put(ct)
		if release != nil {
			release(sent)
		}
	})
	c.markDirty()
}

// tlsWriteOwned is WriteOwned and AsyncWrite on a TLS connection: bs are
// sealed now, after the plaintext gathered before them, and release runs
// when their ciphertext is sent. Before the handshake is done (an
// AsyncWrite that found the connection early) they are refused. Loop only.
func (c *Conn) tlsWriteOwned(tc *tlsConn, b []byte, bs [][]byte, release func(sent bool)) error {
	if tc.phase != tlsOpen {
		return fmt.Errorf("%w: the TLS handshake is not done", ErrNotForTLS)
	}
	tc.plain, _ = appendPooled(c.sh.pool, tc.plain, 0, b)
	for _, b := range bs {
		tc.plain, _ = appendPooled(c.sh.pool, tc.plain, 0, b)
	}
	c.tlsSealOwned(tc, release)
	return nil
}

// tlsCloseNotify seals what is gathered and queues close_notify, so that
// Close and CloseWrite send it before the FIN. Before the handshake is
// done there is no session to close: it reports false, and the caller
// closes at once. Loop only.
func (c *Conn) tlsCloseNotify(tc *tlsConn) bool {
	if tc.phase != tlsOpen {
		return false
	}
	if !c.tlsSeal(tc) {
		return true
	}
	if err := tc.conn.CloseWrite(); err != nil {
		c.closeNow(&wrapError{ErrTLS, err})
		return true
	}
	c.markDirty()
	return true
}

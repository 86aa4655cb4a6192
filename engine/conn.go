package engine

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// Conn is a buffered connection (libevent's bufferevent) owned by one shard.
// Its methods are loop only, that is, for the Handler callbacks and the
// functions the engine runs on the connection's shard, unless a method says
// "any goroutine". Other goroutines use AsyncWrite, or Engine.Conn(id) for a
// handle that offers only what is safe from anywhere.
//
// Slices returned by Peek and Next stay valid until the callback returns or
// the next call that reads, discards or writes on this connection, whichever
// comes first.
type Conn struct {
	sh  *shardCtx
	h   Handler
	ctx any
	id  uint64

	// buf holds unread input between calls and output not yet sent; nil
	// while there is neither (see connBufs). While OnTraffic runs, the
	// bytes just read are the shard's view instead, and at most one of the
	// two holds unread bytes.
	buf *connBufs

	// asyncQueued counts bytes of AsyncWrite calls not yet appended to out;
	// any goroutine adds, the loop subtracts.
	asyncQueued atomic.Int64

	extra     *connExtra // what few connections need (timer, deadlines, rejection); nil until needed
	fd        int32
	state     connState
	closeCode closeCode
	flags     connFlags
}

// connState is where a connection is in its life:
//
//	open ──Close──> closing ──(output flushed, SHUT_WR sent, peer EOF or linger)──> closed
//	  │                                                                              ^
//	  └──────────────── Abort, error, reset, timeout ─────────────────────────────────┘
type connState uint8

const (
	stateOpen connState = iota
	stateClosing
	stateClosed
)

type connFlags uint16

const (
	flagWatched        connFlags = 1 << iota // registered in the shard's epoll
	flagReadEOF                              // the peer's EOF was read
	flagWriteShut                            // shutdown(SHUT_WR) sent
	flagShutPend                             // CloseWrite: shut down once output drains
	flagUserPaused                           // PauseRead
	flagAboveHigh                            // output passed the high watermark, not yet back to the low
	flagWaterNotify                          // SetWatermarks or WithWaterMode(WaterNotify): the marks only notify
	flagWantWrite                            // waiting for EPOLLOUT
	flagDirty                                // in the shard's dirty list: output to flush
	flagOpened                               // OnOpen ran, so OnClose must run
	flagRated                                // rate limits or a rate group: connExtra.rate holds them
	flagPollRead                             // epoll interest includes EventRead
	flagPollWrite                            // epoll interest includes EventWrite
	flagNotifyWritable                       // NotifyWritable: OnDrained once writable
	flagOwnWater                             // SetWatermarks: the marks are in connExtra
	flagTLS                                  // a TLS connection: connExtra.tls holds its state
)

// ID returns the connection's 64-bit ID, unique for the engine's life: the
// shard index in the top 16 bits, a per-shard counter below. Any goroutine.
func (c *Conn) ID() uint64 { return c.id }

// Shard returns the index of the shard that owns the connection. Any
// goroutine.
func (c *Conn) Shard() int { return c.sh.idx }

// Fd returns the socket's file descriptor, for socket options; do not read,
// write, close or duplicate it (the engine closes the socket without
// removing it from the shard's epoll set first, which a copy left open
// would keep registered). On a TLS connection it returns -1: the socket
// carries records only the engine may read and write, so a system call
// on it fails (EBADF) instead of corrupting the stream. Do not set a
// positive SO_LINGER: the engine closes sockets with a raw close(2) on the
// shard, which such a linger would block with the shard's P held. Loop
// only.
func (c *Conn) Fd() int {
	if c.flags&flagTLS != 0 {
		return -1
	}
	return int(c.fd)
}

// Context returns the value set with SetContext. Loop only.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches a value of the application's to the connection. Loop
// only.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Engine returns the engine the connection belongs to. Any goroutine.
func (c *Conn) Engine() *Engine { return c.sh.e }

// LocalAddr returns the local address (asked of the kernel on each call),
// or on a ListenProxyProto listener the address the PROXY header says the
// client reached. Loop only.
func (c *Conn) LocalAddr() net.Addr {
	if px := c.proxyIn(); px != nil && px.dst != nil {
		return px.dst
	}
	return sockName(int(c.fd), false)
}

// RemoteAddr returns the peer's address (asked of the kernel on each
// call), or on a ListenProxyProto listener the client's address from the
// PROXY header. Loop only.
func (c *Conn) RemoteAddr() net.Addr {
	if px := c.proxyIn(); px != nil && px.src != nil {
		return px.src
	}
	return sockName(int(c.fd), true)
}

// Closed reports whether the connection is closed or closing. Loop only.
func (c *Conn) Closed() bool { return c.state != stateOpen }

// Buffered returns the number of unread bytes. Loop only.
func (c *Conn) Buffered() int { return len(c.view()) + c.inLen() }

// view returns the unread rest of the bytes just read, while c's OnTraffic
// runs. They stay in the shard's read buffer, which only one connection's
// callback can be using at a time, so the view is the shard's and not a
// field of every Conn.
func (c *Conn) view() []byte {
	if s := c.sh; s.viewOf == c {
		return s.view
	}
	return nil
}

// dropView forgets c's view, if it has one.
func (c *Conn) dropView() {
	if s := c.sh; s.viewOf == c {
		s.view, s.viewOf = nil, nil
	}
}

// Peek returns the next n unread bytes without consuming them, contiguous
// and without a copy where they already are. It returns ErrNotEnough when
// fewer are buffered. Loop only; valid as the Conn doc says.
func (c *Conn) Peek(n int) ([]byte, error) {
	if v := c.view(); len(v) > 0 {
		if n > len(v) || n < 0 {
			return nil, ErrNotEnough
		}
		return v[:n], nil
	}
	if n > c.inLen() || n < 0 {
		return nil, ErrNotEnough
	}
	return c.buf.in.Peek(n)
}

// Next returns the next n unread bytes and consumes them. It returns
// ErrNotEnough when fewer are buffered. Loop only; valid as the Conn doc
// says.
func (c *Conn) Next(n int) ([]byte, error) {
	if v := c.view(); len(v) > 0 {
		if n > len(v) || n < 0 {
			return nil, ErrNotEnough
		}
		c.sh.view = v[n:]
		return v[:n:n], nil
	}
	if n > c.inLen() || n < 0 {
		return nil, ErrNotEnough
	}
	return c.buf.in.Next(n)
}

// Discard drops up to n unread bytes and returns how many it dropped. Loop
// only.
func (c *Conn) Discard(n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	if v := c.view(); len(v) > 0 {
		n = min(n, len(v))
		c.sh.view = v[n:]
		return n, nil
	}
	if n = min(n, c.inLen()); n == 0 {
		return 0, nil
	}
	return c.buf.in.Discard(n)
}

// Read copies unread bytes into p (io.Reader). It returns 0, nil when
// nothing is buffered: the rest arrives in a later OnTraffic. Loop only.
func (c *Conn) Read(p []byte) (int, error) {
	if v := c.view(); len(v) > 0 {
		n := copy(p, v)
		c.sh.view = v[n:]
		return n, nil
	}
	if c.inLen() == 0 {
		return 0, nil
	}
	return c.buf.in.Read(p)
}

// OutboundBuffered returns the bytes queued for sending. Loop only.
func (c *Conn) OutboundBuffered() int { return c.outLen() }

// PauseRead stops reading from the connection until ResumeRead
// (bufferevent_disable(EV_READ)). Loop only.
func (c *Conn) PauseRead() {
	c.flags |= flagUserPaused
	c.updateInterest()
}

// ResumeRead undoes PauseRead. Bytes that arrived meanwhile are delivered
// then. Loop only.
func (c *Conn) ResumeRead() {
	c.flags &^= flagUserPaused
	c.updateInterest()
	c.readResumed()
}

// SetReadDeadline closes the connection (reason: a timeout error) if t
// passes while it is set; the zero time clears it. Arriving bytes do not
// clear it: a server that wants a request within a time sets it when the
// request begins and clears it when the request is complete. Loop only.
func (c *Conn) SetReadDeadline(t time.Time) { c.setDeadline(&c.extras().readDL, t) }

// SetWriteDeadline closes the connection (reason: a timeout error) if t
// passes while output is still queued; the zero time clears it. Loop only.
func (c *Conn) SetWriteDeadline(t time.Time) { c.setDeadline(&c.extras().writeDL, t) }

// wantRead reports whether the connection should be watched for input.
func (c *Conn) wantRead() bool {
	if c.state == stateClosed || c.flags&flagReadEOF != 0 {
		return false
	}
	if c.state == stateClosing {
		return true // read and discard until the peer's EOF
	}
	return c.flags&flagUserPaused == 0 && c.flags&(flagAboveHigh|flagWaterNotify) != flagAboveHigh &&
		(c.flags&flagTLS == 0 || !c.extra.tls.holdRead) && (c.flags&flagRated == 0 || !c.rateReadBlocked())
}

// updateInterest brings the epoll registration in line with what the
// connection wants. A connection that wants nothing leaves the epoll set.
func (c *Conn) updateInterest() {
	if c.state == stateClosed {
		return
	}
	var ev shard.Events
	if c.wantRead() {
		ev |= shard.EventRead
	}
	if c.flags&(flagWantWrite|flagNotifyWritable) != 0 {
		ev |= shard.EventWrite
	}
	if ev != 0 && c.sh.e.cfg.edge {
		ev |= shard.EventEdge
		if ev&shard.EventRead != 0 {
			// A short read stops reading (see readReady); the peer's FIN
			// may have come with the bytes it read, and only EPOLLRDHUP
			// in the same report says so.
			ev |= shard.EventPeerClosed
		}
	}
	watched := c.flags&flagWatched != 0
	var want connFlags
	if ev&shard.EventRead != 0 {
		want |= flagPollRead
	}
	if ev&shard.EventWrite != 0 {
		want |= flagPollWrite
	}
	switch {
	case watched && want == c.flags&(flagPollRead|flagPollWrite):
		return
	case ev == 0:
		if watched {
			c.sh.loop.Park(int(c.fd)) // closeNow forgets it if the close comes first
			c.flags &^= flagWatched
		}
	case !watched:
		if err := c.sh.loop.Watch(int(c.fd), ev, (*connEvents)(c)); err != nil {
			c.closeNow(err)
			return
		}
		c.flags |= flagWatched
	default:
		if err := c.sh.loop.Modify(int(c.fd), ev); err != nil {
			c.closeNow(err)
			return
		}
	}
	c.flags = c.flags&^(flagPollRead|flagPollWrite) | want
}

package engine

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/shard"
)

// connEvents is a Conn seen as the shard's fd handler. The conversion from
// *Conn is free and an interface holding it does not allocate.
type connEvents Conn

// HandleEvents is the connection's readiness entry point. Loop only.
func (ce *connEvents) HandleEvents(_ int, ev shard.Events) {
	c := (*Conn)(ce)
	defer c.recoverPanic()
	writable := ev&(shard.EventWrite|shard.EventHup|shard.EventErr) != 0
	// Only a NotifyWritable asked before this report may be answered by
	// it: one asked during this call (after a write met EAGAIN) waits for
	// the next.
	notify := c.flags&flagNotifyWritable != 0
	if ev&(shard.EventRead|shard.EventHup|shard.EventErr|shard.EventPeerClosed) != 0 && c.wantRead() {
		c.readReady(ev)
	}
	switch {
	case c.state == stateClosed || !writable:
	case c.flags&flagWantWrite != 0:
		c.flags &^= flagWantWrite
		c.flush() // drained, if it empties the queue, answers NotifyWritable
	case notify && c.flags&flagNotifyWritable != 0:
		c.notifyWritable()
	}
	c.sh.flushDirty()
	c.returnBufs()
}

// recoverPanic turns a panic in a handler callback into an abort of that
// connection only.
func (c *Conn) recoverPanic() {
	if v := recover(); v != nil {
		c.panicked(v)
	}
}

// panicked aborts c after a panic v in its handler's code.
func (c *Conn) panicked(v any) {
	c.dropView()
	err := fmt.Errorf("%w: %v", ErrPanic, v)
	c.sh.e.cfg.logger.Error("handler panic; connection aborted", "conn", c.id, "panic", v)
	c.sh.panics.Add(1)
	c.abortWith(err)
	c.sh.flushDirty()
}

// readReady reads what the socket has, up to the read budget, and hands it
// to the handler.
func (c *Conn) readReady(ev shard.Events) {
	// One test for the connections that are not plain, opened and
	// unlimited: TLS ones, rate-limited ones (rate_conn.go), and those
	// still reading a PROXY header (proxy_listen.go).
	if c.flags&(flagTLS|flagOpened|flagRated) != flagOpened {
		switch {
		case c.flags&(flagRated|flagOpened) == flagRated|flagOpened && c.state == stateOpen:
			c.ratedRead(ev)
			return
		case c.flags&flagTLS != 0:
			c.tlsReadReady(c.extra.tls, c.sh.e.cfg.readBudget)
			return
		case c.state == stateOpen && c.proxyReading():
			c.proxyReadReady(c.proxyIn())
			return
		}
	}
	c.readPlain(ev, c.sh.e.cfg.readBudget)
}

// readPlain is readReady for a plaintext connection: it reads up to budget
// bytes.
func (c *Conn) readPlain(ev shard.Events, budget int) {
	s := c.sh
	for budget > 0 && c.wantRead() {
		var n int
		var err error
		asked := 0 // bytes the read could take, when known
		if l := c.inLen(); l <= len(s.readBuf)/2 {
			l = c.unreadTo(s.readBuf)
			asked = len(s.readBuf) - l
			n, err = rawRead(int(c.fd), s.readBuf[l:])
			if n > 0 {
				c.viewFrom(s.readBuf[:l+n], l)
				c.deliver(n)
				if !c.keepUnread() {
					return
				}
			}
		} else {
			in := &c.buf.in
			s.readFd = int(c.fd)
			n, err = in.ReadWith(s.readInto)
			if errors.Is(err, buffer.ErrBufferFull) {
				c.closeNow(fmt.Errorf("%w (%d bytes)", ErrInboundFull, in.Len()))
				return
			}
			if n > 0 {
				c.deliver(n)
			}
			// The handler has returned, so its slices are dead: an idle
			// connection holds no buffer memory.
			if c.inLen() == 0 {
				c.releaseIn()
			}
		}
		switch {
		case err == syscall.EAGAIN:
			return
		case err != nil:
			c.closeNow(wrapSyscall("read", err))
			return
		case n == 0:
			c.readEOF()
			return
		}
		budget -= n
		if s.e.cfg.edge && n < asked && ev&(shard.EventPeerClosed|shard.EventHup|shard.EventErr) == 0 {
			// Edge-triggered: a read shorter than asked drained the
			// socket (epoll(7) says so for stream sockets), and bytes
			// that arrive later raise a new edge, so a read to EAGAIN
			// would only confirm it. Not so for an EOF that came with
			// the bytes: no later edge reports it, so with EPOLLRDHUP
			// in the report the loop reads on to it.
			return
		}
		if !s.e.cfg.edge {
			// Level-triggered: one read per readiness report. If bytes
			// are left, the next epoll_wait reports the fd again, and
			// that costs less than a second read that most often only
			// says EAGAIN (measured: at 4 KiB x 16 in flight half the
			// reads were EAGAIN, as 64 KiB fill the read buffer exactly).
			// It also gives every connection of the shard a turn between
			// two reads of a flooding one.
			return
		}
	}
	if budget <= 0 && s.e.cfg.edge && c.wantRead() {
		// Edge-triggered: no new edge will come for bytes already
		// waiting, so finish them in a later round.
		c.sh.requeueRead(c)
	}
}

// unreadTo copies the bytes the handler left unread, if any, to the front
// of buf (the shard's read buffer, or its TLS plaintext buffer) and returns
// their count, for a read to land behind them; the caller has checked that
// they take at most half of buf. So a pipelined stream of messages whose
// ends do not fall where reads end (a message cut by the end of each read)
// is still read a whole buffer at a time, where reading into the free run
// of the connection's ring, often smaller than one message, took one read
// per message (tools/rpc at 4 KiB and saturation: 0.6-0.8 reads per call
// before, 0.12 after, as many as the C server; benchmarks/results/
// read-behind). Past half the buffer the ring keeps them and reads go into
// it: the copies would cost more than the short reads. Loop only.
func (c *Conn) unreadTo(buf []byte) int {
	l := c.inLen()
	if l > 0 {
		p, _ := c.buf.in.Peek(l)
		copy(buf, p)
	}
	return l
}

// viewFrom makes v, which begins with the l bytes unreadTo copied, the
// shard's view of c's unread input, and empties the ring they came from.
// Loop only.
func (c *Conn) viewFrom(v []byte, l int) {
	if l > 0 {
		c.releaseIn()
	}
	c.sh.view, c.sh.viewOf = v, c
}

// keepUnread ends a delivery from the shard's view: what the handler left
// unread goes to the connection's ring. It reports false when that closed
// the connection (ErrInboundFull). Loop only.
func (c *Conn) keepUnread() bool {
	if v := c.view(); len(v) > 0 && c.state != stateClosed {
		in := &c.bufs().in
		if _, err := in.Write(v); err != nil {
			c.dropView()
			c.closeNow(fmt.Errorf("%w (%d bytes)", ErrInboundFull, in.Len()))
			return false
		}
	}
	c.dropView()
	return true
}

// deliver accounts for n new bytes and gives them to the handler, unless
// the connection is closing and only drains input.
func (c *Conn) deliver(n int) {
	c.sh.bytesIn.Add(uint64(n))
	if c.extra != nil {
		now := c.sh.loop.Now()
		c.extra.last, c.extra.lastRead = now, now
	}
	if c.state != stateOpen {
		c.dropView()
		c.releaseIn()
		return
	}
	c.h.OnTraffic(c)
}

// readEOF handles the peer's half-close.
func (c *Conn) readEOF() {
	c.flags |= flagReadEOF
	if c.state == stateClosing {
		c.finishClose()
		return
	}
	c.updateInterest()
	c.h.OnReadEOF(c)
}

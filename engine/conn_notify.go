package engine

// NotifyWritable asks for one OnDrained call once the socket can take
// bytes again: at once when the queued output has all been sent, or, with
// nothing queued, when epoll next reports the socket writable (a report
// that came before the call does not count). While it is pending, the
// watermark's OnDrained is not called separately. It is for
// handlers that write to the fd themselves (splice, sendfile) and met
// EAGAIN, and for those that produce output only when the peer can take
// it. It returns ErrConnClosed on a closed or closing connection. Loop
// only. On a TLS connection, whose fd only the engine writes, it returns
// ErrNotForTLS.
func (c *Conn) NotifyWritable() error {
	if c.state != stateOpen {
		return ErrConnClosed
	}
	if c.flags&flagTLS != 0 {
		return ErrNotForTLS
	}
	c.flags |= flagNotifyWritable
	if c.outLen() == 0 && c.flags&flagWantWrite == 0 {
		c.updateInterest() // EPOLLOUT with nothing queued
	}
	return nil
}

// notifyWritable delivers a pending NotifyWritable once nothing is queued.
func (c *Conn) notifyWritable() {
	if c.flags&flagNotifyWritable == 0 || c.outLen() != 0 || c.flags&flagWantWrite != 0 {
		return
	}
	c.flags &^= flagNotifyWritable
	c.updateInterest()
	if c.state == stateOpen {
		c.h.OnDrained(c)
	}
}

// CountBytes adds bytes the handler moved on the connection's fd itself
// (splice, sendfile) to the shard's BytesIn and BytesOut, so that Stats
// stays true, and counts them as traffic for the idle timeout. On a TLS
// connection, whose fd nobody but the engine may use (Fd returns -1), it
// does nothing. Loop only.
func (c *Conn) CountBytes(in, out int) {
	if c.flags&flagTLS != 0 {
		return
	}
	if in > 0 {
		c.sh.bytesIn.Add(uint64(in))
	}
	if out > 0 {
		c.sh.bytesOut.Add(uint64(out))
	}
	if (in > 0 || out > 0) && c.extra != nil {
		now := c.sh.loop.Now()
		c.extra.last = now
		if in > 0 {
			c.extra.lastRead = now
		}
	}
}

package engine

import "github.com/shardnet/shardnet/buffer"

// maxSpareBufs bounds the connBufs a shard keeps for reuse: enough for the
// connections that hold bytes at the same moment under load, few enough
// that a burst leaves little behind (each is about 100 bytes).
const maxSpareBufs = 1024

// connBufs is what a connection needs only while it holds bytes: input its
// handler left unread between calls, and output not yet sent. Most
// connections are idle most of the time, so a Conn borrows one from its
// shard when the first byte needs it and gives it back when both are
// empty again: an idle connection costs its Conn and nothing more.
type connBufs struct {
	in  buffer.Ring
	out buffer.Chain
}

// bufs returns the connection's buffers, borrowing them from the shard
// first if it holds none. Loop only.
func (c *Conn) bufs() *connBufs {
	if b := c.buf; b != nil {
		return b
	}
	s := c.sh
	var b *connBufs
	if n := len(s.spareBufs); n > 0 {
		b = s.spareBufs[n-1]
		s.spareBufs[n-1] = nil
		s.spareBufs = s.spareBufs[:n-1]
	} else {
		b = new(connBufs)
		b.in.Init(s.pool, s.e.cfg.maxInbound)
		b.out.Init(s.pool, s.e.cfg.blockSize)
	}
	c.buf = b
	return b
}

// inLen returns the unread bytes held between calls (the read view aside).
func (c *Conn) inLen() int {
	if c.buf == nil {
		return 0
	}
	return c.buf.in.Len()
}

// outLen returns the output bytes queued and not yet sent.
func (c *Conn) outLen() int {
	if c.buf == nil {
		return 0
	}
	return c.buf.out.Len()
}

// releaseIn gives the input block back to the pool once nothing unread
// is left in it.
func (c *Conn) releaseIn() {
	if c.buf != nil {
		c.buf.in.Release()
	}
}

// returnBufs gives the buffers back to the shard when they are empty. It
// runs only where no frame of the engine or the handler below it can still
// be using them: at the end of an entry point, after the flush, never from
// inside a callback (an AsyncWrite's done, for instance, runs in the middle
// of consuming the output chain).
func (c *Conn) returnBufs() {
	b := c.buf
	if b == nil || b.out.Len() != 0 || b.in.Len() != 0 || c.flags&flagWantWrite != 0 {
		return
	}
	b.in.Release()
	c.buf = nil
	if s := c.sh; len(s.spareBufs) < maxSpareBufs {
		s.spareBufs = append(s.spareBufs, b)
	}
}

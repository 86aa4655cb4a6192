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

// The output queue changes only through the five functions below, which
// keep the shard's count of queued bytes (Stats.QueuedBytes) in step.

// queueCopy copies b to the end of the output queue.
func (c *Conn) queueCopy(b []byte) {
	c.bufs().out.Write(b)
	c.sh.queued += len(b)
}

// queueString copies s to the end of the output queue.
func (c *Conn) queueString(s string) {
	c.bufs().out.WriteString(s)
	c.sh.queued += len(s)
}

// queueOwned queues b itself; release runs once it is sent or dropped.
func (c *Conn) queueOwned(b []byte, release func(sent bool)) {
	c.bufs().out.Append(b, release)
	c.sh.queued += len(b)
}

// sentOut takes the n bytes the kernel accepted off the output queue. The
// release hooks they finish go to the shard's list, for runReleases.
func (c *Conn) sentOut(n int) {
	s := c.sh
	s.queued -= n
	s.bytesOut.Add(uint64(n))
	s.releases = c.buf.out.Consume(n, s.releases)
	s.ownReleases(c)
}

// dropOut empties the output queue of a closed connection. The release
// hooks go to the shard's list, for runReleases (they get false).
func (c *Conn) dropOut() {
	s := c.sh
	s.queued -= c.buf.out.Len()
	s.releases = c.buf.out.Reset(s.releases)
	s.ownReleases(c)
}

// ownReleases records c as the owner of the release hooks just added.
func (s *shardCtx) ownReleases(c *Conn) {
	for len(s.releaseOwners) < len(s.releases) {
		s.releaseOwners = append(s.releaseOwners, c)
	}
}

// returnBufs gives the buffers back to the shard when they are empty. It
// runs only where no frame of the engine or the handler below it can still
// be using them: at the end of an entry point, after the flush, never from
// inside a callback (which may hold slices of the input).
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

package buffer

import "fmt"

// DefaultBlockSize is the block a Chain or View copies small writes into when
// Init was given blockSize <= 0, or was never called.
const DefaultBlockSize = 4096

// maxCopyBlock bounds the block one large Write takes at once, so a huge
// write becomes a few large iovecs without pinning one huge block until its
// last byte is sent.
const maxCopyBlock = 64 << 10

// Chain is the outbound queue of a connection: pooled blocks that Write
// copies into, and caller-owned slices queued with Append, in order. Buffers
// hands the pending bytes to writev without copying; Consume drops what the
// kernel took and gives drained blocks back to the pool at once, so an empty
// Chain holds no memory. It is not safe for concurrent use; it belongs to one
// connection on one shard.
//
// The zero value is ready to use: it allocates with make (a nil Pool) and
// uses DefaultBlockSize blocks.
//
//	head                                         tail
//	[block: consumed|pending] -> [owned slice] -> [block: pending|room]
type Chain struct {
	pool       *Pool    // where blocks and nodes come from; nil means make
	head, tail *segment // the queue, oldest first; every node holds >= 1 pending byte
	n          int      // pending bytes in all nodes
	blockSize  int      // size of the blocks Write copies into; <= 0 means DefaultBlockSize
}

// Init makes c empty and ready to take blocks of blockSize bytes (<= 0
// means DefaultBlockSize) from pool (nil allocates with make). Owned slices
// still queued are dropped as by Reset, and their releases run with false
// before Init returns.
func (c *Chain) Init(pool *Pool, blockSize int) {
	for _, r := range c.Reset(nil) {
		r.Run()
	}
	c.pool, c.blockSize = pool, blockSize
}

// Len returns the number of bytes queued and not yet consumed.
func (c *Chain) Len() int { return c.n }

// Write copies p to the end of the queue, into the room left in the tail
// block and then into new blocks. It never fails: flow control is the
// caller's (watermarks on Len). p may be reused as soon as Write returns.
func (c *Chain) Write(p []byte) (int, error) {
	return appendCopy(c, p), nil
}

// WriteString is Write for a string, without converting it to a []byte.
func (c *Chain) WriteString(s string) (int, error) {
	return appendCopy(c, s), nil
}

func appendCopy[T string | []byte](c *Chain, p T) int {
	total := len(p)
	for len(p) > 0 {
		s := c.tail
		if s == nil || s.box == nil || s.w == len(s.buf) {
			s = c.addBlock(len(p))
		}
		k := copy(s.buf[s.w:], p)
		s.w += k
		c.n += k
		p = p[k:]
	}
	return total
}

// addBlock queues an empty pooled block big enough for want bytes if that is
// at most maxCopyBlock, and at least blockSize.
func (c *Chain) addBlock(want int) *segment {
	size := c.blockSize
	if size <= 0 {
		size = DefaultBlockSize
	}
	if want > size {
		size = max(size, min(want, maxCopyBlock))
	}
	s := c.pool.getSeg()
	s.box = c.pool.getBox(size)
	s.buf = s.box.B
	c.link(s)
	return s
}

func (c *Chain) link(s *segment) {
	if c.tail == nil {
		c.head = s
	} else {
		c.tail.next = s
	}
	c.tail = s
}

// Append queues p itself, without copying; the caller must not change p
// until its release runs. release (which may be nil) runs exactly once,
// with true once all of p has been consumed, or with false if p was
// dropped before that; the Chain never runs it itself (see Release): it
// hands it back from Consume or Reset, for the caller to run once it is
// done with the Chain. An empty p is consumed at once: release(true) runs
// before Append returns.
func (c *Chain) Append(p []byte, release func(sent bool)) {
	if len(p) == 0 {
		if release != nil {
			release(true)
		}
		return
	}
	s := c.pool.getSeg()
	s.buf, s.w, s.release = p, len(p), release
	c.link(s)
	c.n += len(p)
}

// Release is an owned slice's release hook, due to run: Consume and Reset
// return them instead of running them, so that code of the caller's (an
// AsyncWrite's callback that writes, flushes or closes) never runs while
// the Chain, or the caller's own bookkeeping, is half updated. Run each
// once the Chain is consistent again, in the order given.
type Release struct {
	fn   func(sent bool)
	sent bool
}

// Run calls the release hook with whether its slice was sent (consumed)
// or dropped.
func (r Release) Run() { r.fn(r.sent) }

// Sent reports whether the slice was consumed (true) or dropped by Reset.
func (r Release) Sent() bool { return r.sent }

// Buffers appends to dst the pending bytes as at most max slices (max <= 0
// means no limit), oldest first, without copying, and returns dst; pass them
// to writev, then Consume what it wrote. The slices are valid until the next
// Consume or Reset (Write, WriteString and Append only add bytes after them
// and leave them intact). Each slice's capacity ends with its bytes.
func (c *Chain) Buffers(dst [][]byte, max int) [][]byte {
	k := 0
	for s := c.head; s != nil && (max <= 0 || k < max); s = s.next {
		dst = append(dst, s.buf[s.r:s.w:s.w])
		k++
	}
	return dst
}

// Consume drops the first n pending bytes, as after a writev that wrote n.
// Blocks it empties go back to the pool at once; owned slices it finishes
// are recycled and their release hooks appended to dst, in order, which
// Consume returns: it runs no caller code. n outside 0..Len() panics: it
// means the caller lost track of what it sent.
func (c *Chain) Consume(n int, dst []Release) []Release {
	if n < 0 || n > c.n {
		panic(fmt.Sprintf("buffer: Chain.Consume(%d) with %d bytes pending", n, c.n))
	}
	c.n -= n
	for n > 0 {
		s := c.head
		if k := s.w - s.r; n < k {
			s.r += n
			break
		}
		n -= s.w - s.r
		c.unlinkHead()
		dst = c.drop(s, true, dst)
	}
	return dst
}

// Reset drops every pending byte: blocks go back to the pool, and the
// release hooks of owned slices are appended to dst, to run with false,
// which Reset returns. The Chain stays usable with the same pool and block
// size.
func (c *Chain) Reset(dst []Release) []Release {
	for c.head != nil {
		s := c.head
		c.unlinkHead()
		dst = c.drop(s, false, dst)
	}
	c.n = 0
	return dst
}

func (c *Chain) unlinkHead() {
	c.head = c.head.next
	if c.head == nil {
		c.tail = nil
	}
}

// drop gives an unlinked node back to the pool, with its block; an owned
// slice's release hook goes to dst.
func (c *Chain) drop(s *segment, sent bool, dst []Release) []Release {
	if s.box != nil {
		c.pool.putBox(s.box)
	} else if s.release != nil {
		dst = append(dst, Release{fn: s.release, sent: sent})
	}
	c.pool.putSeg(s)
	return dst
}

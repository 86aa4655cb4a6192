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

// Init makes c empty (as Reset does) and ready to take blocks of blockSize
// bytes (<= 0 means DefaultBlockSize) from pool (nil allocates with make).
func (c *Chain) Init(pool *Pool, blockSize int) {
	c.Reset()
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
// until release runs. release (which may be nil) runs exactly once: with true
// from Consume when all of p has been consumed, or with false from Reset if
// p was dropped before that. An empty p is consumed at once: release(true)
// runs before Append returns. release runs on the goroutine that called
// Consume or Reset; it may Write or Append to c but must not call Consume or
// Reset of c.
func (c *Chain) Append(p []byte, release func(consumed bool)) {
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
// Blocks it empties go back to the pool and owned slices it finishes have
// their release run with true, before Consume returns. n outside
// 0..Len() panics: it means the caller lost track of what it sent. A
// release that panics does not stop the others: Consume finishes, then
// raises the first panic again.
func (c *Chain) Consume(n int) {
	if n < 0 || n > c.n {
		panic(fmt.Sprintf("buffer: Chain.Consume(%d) with %d bytes pending", n, c.n))
	}
	c.n -= n
	var failed any
	for n > 0 {
		s := c.head
		if k := s.w - s.r; n < k {
			s.r += n
			break
		}
		n -= s.w - s.r
		c.unlinkHead()
		if v := c.dropGuarded(s, true); v != nil && failed == nil {
			failed = v
		}
	}
	if failed != nil {
		panic(failed)
	}
}

// Reset drops every pending byte: blocks go back to the pool and owned
// slices have their release run with false (including any that a release
// appends while Reset runs). The Chain stays usable with the same pool and
// block size. A release that panics does not stop the others: Reset
// finishes, then raises the first panic again.
func (c *Chain) Reset() {
	var failed any
	for c.head != nil {
		s := c.head
		c.n -= s.w - s.r
		c.unlinkHead()
		if v := c.dropGuarded(s, false); v != nil && failed == nil {
			failed = v
		}
	}
	c.n = 0
	if failed != nil {
		panic(failed)
	}
}

func (c *Chain) unlinkHead() {
	c.head = c.head.next
	if c.head == nil {
		c.tail = nil
	}
}

// drop gives an unlinked node back: its block to the pool, or its owned
// slice to release. The node is recycled before release runs, so a release
// that writes to the Chain finds it consistent.
func (c *Chain) drop(s *segment, consumed bool) {
	if s.box != nil {
		c.pool.putBox(s.box)
		c.pool.putSeg(s)
		return
	}
	release := s.release
	c.pool.putSeg(s)
	if release != nil {
		release(consumed)
	}
}

// dropGuarded is drop that returns a panic of the node's release instead
// of raising it, so Consume and Reset can finish with the Chain whole
// before they raise it again. Blocks run no caller code: no guard.
func (c *Chain) dropGuarded(s *segment, consumed bool) (panicked any) {
	if s.box != nil {
		c.drop(s, consumed)
		return nil
	}
	defer func() { panicked = recover() }()
	c.drop(s, consumed)
	return nil
}

package buffer

import (
	"bytes"

	"github.com/valyala/bytebufferpool"
)

// View is a zero-copy reader over a queue of blocks, the kind of buffer a
// netpoll-style reader stands on. Blocks are pushed in (ownership moves to
// the View) or filled by Write and ReadWith. Peek, Next and Until return
// slices that stay valid until Release: the blocks under them are pinned,
// never moved, recycled or given back while a slice may point into them. A
// read that spans blocks copies into a new pooled block, pinned the same way.
// Release gives back every block that has been read to its end, and the
// copies. It is not safe for concurrent use; it belongs to one connection on
// one shard.
//
// The zero value is ready to use: it allocates with make (a nil Pool) and
// uses DefaultBlockSize blocks.
//
//	head (pinned, read)      cur (being read)              tail
//	[###########] -> [####|unread] -> [unread] -> [unread|room]
//	pinned: copies made for reads across blocks, freed by Release
type View struct {
	pool      *Pool    // where blocks and nodes come from and go back; nil means make
	head      *segment // oldest block still held; those before cur are fully read
	cur       *segment // first block with unread bytes; nil when n == 0
	tail      *segment // newest block; Write fills its room
	pinned    *segment // blocks holding copies for reads across blocks
	n         int      // unread bytes
	blockSize int      // block size for Write and ReadWith; <= 0 means DefaultBlockSize
}

// Init makes v empty (as Reset does) and ready to take blocks of blockSize
// bytes (<= 0 means DefaultBlockSize) from pool (nil allocates with make).
func (v *View) Init(pool *Pool, blockSize int) {
	v.Reset()
	v.pool, v.blockSize = pool, blockSize
}

// Len returns the number of unread bytes.
func (v *View) Len() int { return v.n }

// Push appends the bytes of b to the unread bytes without copying and takes
// b: it must come from Get of v's pool, and the caller must not touch it
// again. The room past len(b), up to cap(b), becomes room for Write and
// ReadWith.
func (v *View) Push(b []byte) {
	if len(b) == 0 {
		v.pool.Put(b)
		return
	}
	s := v.pool.getSeg()
	s.buf, s.w = b[:cap(b)], len(b)
	v.link(s)
	v.n += len(b)
}

// Write copies p after the unread bytes, into the room of the newest block
// and then into new blocks. It never fails. It leaves every slice v returned
// intact.
func (v *View) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		s := v.room()
		k := copy(s.buf[s.w:], p)
		v.filled(s, k)
		p = p[k:]
	}
	return total, nil
}

// ReadWith calls read exactly once with the room of the newest block (or a
// new block of the View's block size, if it has none) and keeps the k bytes
// read reports; it returns read's count and error. A negative count, as
// syscall wrappers return with an error, counts as 0; a new block that got
// no bytes goes straight back to the pool. The slice passed to read is valid
// only during the call. It leaves every slice v returned intact.
func (v *View) ReadWith(read func(p []byte) (int, error)) (int, error) {
	s := v.tail
	var fresh *bytebufferpool.ByteBuffer
	var p []byte
	if s != nil && s.w < len(s.buf) {
		p = s.buf[s.w:]
	} else {
		fresh = v.pool.getBox(v.size())
		p = fresh.B
	}
	k, err := read(p[:len(p):len(p)])
	if k < 0 {
		k = 0
	}
	if k > len(p) {
		panic("buffer: View.ReadWith: read reported more bytes than the slice it was given")
	}
	if fresh != nil {
		if k == 0 {
			v.pool.putBox(fresh)
			return 0, err
		}
		s = v.newBlock(fresh)
	}
	v.filled(s, k)
	return k, err
}

// room returns the tail block if it has room, or links a new empty one.
func (v *View) room() *segment {
	if s := v.tail; s != nil && s.w < len(s.buf) {
		return s
	}
	return v.newBlock(v.pool.getBox(v.size()))
}

// newBlock links an empty node for the block in bb at the tail.
func (v *View) newBlock(bb *bytebufferpool.ByteBuffer) *segment {
	s := v.pool.getSeg()
	s.buf, s.box = bb.B, bb
	v.link(s)
	return s
}

func (v *View) size() int {
	if v.blockSize <= 0 {
		return DefaultBlockSize
	}
	return v.blockSize
}

// filled records k new bytes at the end of s.
func (v *View) filled(s *segment, k int) {
	s.w += k
	v.n += k
	if v.cur == nil && k > 0 {
		v.cur = s
	}
}

func (v *View) link(s *segment) {
	if v.tail == nil {
		v.head = s
	} else {
		v.tail.next = s
	}
	v.tail = s
	if v.cur == nil && s.w > s.r {
		v.cur = s
	}
}

// Peek returns the next n unread bytes without consuming them. The slice is
// valid until Release (or Reset): it points into the block that holds the
// bytes, or, if they span blocks, into a new pooled block holding a copy.
// Its capacity ends at n. If fewer than n bytes are unread, Peek returns
// ErrShort.
func (v *View) Peek(n int) ([]byte, error) {
	switch {
	case n < 0:
		return nil, ErrNegativeCount
	case n > v.n:
		return nil, ErrShort
	case n == 0:
		return nil, nil
	}
	if s := v.cur; s.w-s.r >= n {
		return s.buf[s.r : s.r+n : s.r+n], nil
	}
	return v.gather(n), nil
}

// Next returns the next n unread bytes, like Peek, and consumes them. The
// slice is valid until Release (or Reset). If fewer than n bytes are unread,
// Next consumes nothing and returns ErrShort.
func (v *View) Next(n int) ([]byte, error) {
	p, err := v.Peek(n)
	if err == nil {
		v.advance(n)
	}
	return p, err
}

// Skip consumes the next n unread bytes. If fewer than n are unread, it
// consumes nothing and returns ErrShort.
func (v *View) Skip(n int) error {
	switch {
	case n < 0:
		return ErrNegativeCount
	case n > v.n:
		return ErrShort
	}
	v.advance(n)
	return nil
}

// Until returns the unread bytes up to and including the first delim and
// consumes them. The slice is valid until Release (or Reset). If delim is not
// among the unread bytes, Until consumes nothing and returns ErrNoDelim.
func (v *View) Until(delim byte) ([]byte, error) {
	off := 0
	for s := v.cur; s != nil; s = s.next {
		if i := bytes.IndexByte(s.buf[s.r:s.w], delim); i >= 0 {
			return v.Next(off + i + 1)
		}
		off += s.w - s.r
	}
	return nil, ErrNoDelim
}

// Release ends the validity of every slice v returned: blocks read to their
// end and the copies made for reads across blocks go back to the pool, so a
// View whose bytes were all read holds no memory after Release. A block with
// unread bytes stays.
func (v *View) Release() {
	for v.head != nil && v.head.r == v.head.w {
		s := v.head // read to its end, so it is before cur (or cur is nil)
		v.head = s.next
		if v.head == nil {
			v.tail = nil
		}
		v.free(s)
	}
	v.releasePinned()
}

// Reset drops every byte, read or not, and gives all memory back to the
// pool; every slice v returned is invalid afterwards. The View stays usable
// with the same pool and block size.
func (v *View) Reset() {
	for v.head != nil {
		s := v.head
		v.head = s.next
		v.free(s)
	}
	v.tail, v.cur, v.n = nil, nil, 0
	v.releasePinned()
}

func (v *View) releasePinned() {
	for v.pinned != nil {
		s := v.pinned
		v.pinned = s.next
		v.free(s)
	}
}

// free gives an unlinked node and its block back to the pool.
func (v *View) free(s *segment) {
	if s.box != nil {
		v.pool.putBox(s.box)
	} else {
		v.pool.Put(s.buf) // a block pushed in, from Get
	}
	v.pool.putSeg(s)
}

// gather copies the next n unread bytes, which span blocks, into a new
// pooled block pinned until Release, and returns the copy.
func (v *View) gather(n int) []byte {
	bb := v.pool.getBox(n)
	b := bb.B
	k := 0
	for s := v.cur; k < n; s = s.next {
		k += copy(b[k:], s.buf[s.r:min(s.w, s.r+n-k)])
	}
	p := v.pool.getSeg()
	p.buf, p.box, p.next = b, bb, v.pinned
	v.pinned = p
	return b[:n:n]
}

// advance consumes n <= v.n bytes; read blocks stay pinned until Release.
func (v *View) advance(n int) {
	v.n -= n
	for n > 0 {
		s := v.cur
		k := min(n, s.w-s.r)
		s.r += k
		n -= k
		if s.r == s.w {
			v.cur = s.next
		}
	}
}

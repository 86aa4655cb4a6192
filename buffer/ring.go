package buffer

import "io"

// DefaultMaxCap is the most bytes a Ring holds when Init was given
// maxCap <= 0, or was never called.
const DefaultMaxCap = 4 << 20

const (
	// minRingBlock is the smallest block a Ring takes for written bytes:
	// leftovers are usually a partial frame that will grow, and starting
	// at 64 B would cost several copies on the way up.
	minRingBlock = 512
	// readChunk is the block ReadWith takes when the Ring holds nothing:
	// one page, what one read(2) usually returns on a busy socket.
	readChunk = 4096
)

// Ring holds the inbound bytes a handler left unread: a circular block from
// a Pool that grows by powers of two up to a maximum. It is not safe for
// concurrent use; it belongs to one connection on one shard.
//
// An empty Ring holds no memory. The block goes back to the Pool as soon as
// the last byte is consumed, with one exception so that slices stay valid:
// when Next takes the last bytes, the block is kept until the next call that
// changes the Ring (or Release). Cap reports what is held.
//
// The zero value is ready to use: it allocates with make (a nil Pool) and
// holds at most DefaultMaxCap bytes.
//
//	              head                 head+n (mod len)
//	buf: [ ....... |#### unread ######| ....... free ....... ]
//	or, wrapped:
//	buf: [## unread tail ##| ... free ... |#### unread head ####]
type Ring struct {
	pool   *Pool  // where buf comes from and goes back to; nil means make
	buf    []byte // the block, len == cap; nil when the Ring holds no memory
	head   int    // index in buf of the first unread byte
	n      int    // unread bytes; n == 0 with buf != nil only after Next emptied the Ring
	maxCap int    // most unread bytes allowed; <= 0 means DefaultMaxCap
}

// Init makes r empty and ready to take blocks from pool (nil allocates with
// make) and to hold at most maxCap bytes (maxCap <= 0 means DefaultMaxCap).
// Memory r still held goes back to its previous pool first.
func (r *Ring) Init(pool *Pool, maxCap int) {
	r.Release()
	r.pool, r.maxCap = pool, maxCap
}

func (r *Ring) limit() int {
	if r.maxCap <= 0 {
		return DefaultMaxCap
	}
	return r.maxCap
}

// Len returns the number of unread bytes.
func (r *Ring) Len() int { return r.n }

// Buffered returns the number of unread bytes, like Len; it is the name a
// codec's byte source uses.
func (r *Ring) Buffered() int { return r.n }

// Cap returns the bytes of memory r holds: 0 when it is empty and its block
// has gone back to the pool.
func (r *Ring) Cap() int { return len(r.buf) }

// Peek returns the next n unread bytes as one contiguous slice without
// consuming them. It copies nothing when the bytes are already contiguous;
// when they wrap around the end of the block it first moves them so they are
// (that counts as a change to the Ring). The slice is valid until the next
// call that changes the Ring: Write, ReadWith, Read, Next, Discard, Release,
// Init, or a Peek that has to move bytes. Its capacity ends at n, so append
// on it cannot overwrite the Ring.
//
// If fewer than n bytes are buffered, Peek returns ErrShort.
func (r *Ring) Peek(n int) ([]byte, error) {
	switch {
	case n < 0:
		return nil, ErrNegativeCount
	case n > r.n:
		return nil, ErrShort
	case n == 0:
		return nil, nil
	}
	if r.head+n > len(r.buf) {
		r.linearize()
	}
	return r.buf[r.head : r.head+n : r.head+n], nil
}

// Next returns the next n unread bytes, like Peek, and consumes them. The
// slice is valid until the next call that changes the Ring; if Next took the
// last bytes, the block under the slice stays held until then (call Release
// to give it back as soon as the slice is dead).
//
// If fewer than n bytes are buffered, Next consumes nothing and returns
// ErrShort.
func (r *Ring) Next(n int) ([]byte, error) {
	if r.n == 0 {
		r.Release() // a block kept for an earlier Next: that slice just expired
	}
	p, err := r.Peek(n)
	if err != nil || n == 0 {
		return p, err
	}
	r.advance(n)
	return p, nil
}

// Discard consumes the next n unread bytes, or all of them if fewer are
// buffered, and returns how many it consumed; it returns ErrShort when that
// is fewer than n. When the Ring empties its block goes back to the pool.
func (r *Ring) Discard(n int) (int, error) {
	if n < 0 {
		return 0, ErrNegativeCount
	}
	var err error
	if n > r.n {
		n, err = r.n, ErrShort
	}
	r.advance(n)
	if r.n == 0 {
		r.Release()
	}
	return n, err
}

// Write appends p, taking a larger block (the next power of two, copying the
// unread bytes over) when p does not fit. If the unread bytes would pass the
// maximum capacity, Write writes nothing and returns 0, ErrBufferFull.
func (r *Ring) Write(p []byte) (int, error) {
	if len(p) == 0 {
		if r.n == 0 {
			r.Release() // a block kept for Next: that slice just expired
		}
		return 0, nil
	}
	need := r.n + len(p)
	if need > r.limit() {
		if r.n == 0 {
			r.Release() // a block kept for Next: that slice just expired
		}
		return 0, ErrBufferFull
	}
	if need > len(r.buf) {
		r.grow(need)
	} else if r.n == 0 {
		r.head = 0 // reuse a block kept for Next; its slice just expired
	}
	tail := r.head + r.n
	if tail >= len(r.buf) {
		// The unread bytes wrap (or end at the end): free space is one run.
		tail -= len(r.buf)
		copy(r.buf[tail:r.head], p)
	} else {
		k := copy(r.buf[tail:], p)
		copy(r.buf, p[k:])
	}
	r.n = need
	return len(p), nil
}

// ReadWith calls read exactly once with the largest contiguous run of free
// space after the unread bytes, and keeps the k bytes read reports; it
// returns read's count and error. It is made for a raw read(2): a negative
// count, as syscall wrappers return with an error, counts as 0. If the Ring
// is full it first takes a block twice as large (within the maximum); if it
// is at the maximum already, read is not called and ReadWith returns 0,
// ErrBufferFull. A Ring that holds nothing takes a 4 KiB block (or the
// maximum, if smaller) and gives it back if read returns no bytes.
//
// The slice passed to read is valid only during the call.
func (r *Ring) ReadWith(read func(p []byte) (int, error)) (int, error) {
	limit := r.limit()
	if r.n >= limit {
		return 0, ErrBufferFull
	}
	switch {
	case r.buf == nil:
		r.buf = r.block(min(readChunk, limit))
		r.head = 0
	case r.n == 0:
		r.head = 0 // reuse a block kept for Next; its slice just expired
	case r.n == len(r.buf):
		r.grow(r.n + 1)
	}
	var p []byte
	if tail := r.head + r.n; tail >= len(r.buf) {
		tail -= len(r.buf)
		p = r.buf[tail:r.head]
	} else {
		if r.head > len(r.buf)-tail {
			// More room before the unread bytes than after them: slide them
			// to the front so the read gets all the free space in one run.
			copy(r.buf, r.buf[r.head:tail])
			r.head, tail = 0, r.n
		}
		p = r.buf[tail:]
	}
	if room := limit - r.n; len(p) > room {
		p = p[:room] // the block may be larger than the maximum
	}
	k, err := read(p[:len(p):len(p)])
	if k < 0 {
		k = 0
	}
	if k > len(p) {
		panic("buffer: Ring.ReadWith: read reported more bytes than the slice it was given")
	}
	r.n += k
	if r.n == 0 {
		r.Release()
	}
	return k, err
}

// Read copies up to len(p) unread bytes into p and consumes them; it makes
// Ring an io.Reader. An empty Ring returns 0, io.EOF (like bytes.Buffer):
// for a Ring that means "nothing buffered now", not the end of a stream.
func (r *Ring) Read(p []byte) (int, error) {
	if r.n == 0 {
		r.Release()
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(r.head+r.n, len(r.buf))
	k := copy(p, r.buf[r.head:end])
	if k < len(p) && k < r.n {
		k += copy(p[k:], r.buf[:r.n-k])
	}
	r.advance(k)
	if r.n == 0 {
		r.Release()
	}
	return k, nil
}

// Release drops the unread bytes and gives the block back to the pool; every
// slice r returned is invalid afterwards. The Ring stays usable with the same
// pool and maximum.
func (r *Ring) Release() {
	if r.buf != nil {
		r.pool.Put(r.buf)
	}
	r.buf, r.head, r.n = nil, 0, 0
}

// advance consumes n <= r.n bytes without giving the block back.
func (r *Ring) advance(n int) {
	r.n -= n
	if r.n == 0 {
		r.head = 0
		return
	}
	r.head += n
	if r.head >= len(r.buf) {
		r.head -= len(r.buf)
	}
}

// block takes a block of at least n bytes from the pool and returns all of it.
func (r *Ring) block(n int) []byte {
	b := r.pool.Get(n)
	return b[:cap(b)]
}

// grow moves the unread bytes, unwrapped, into a block that holds need bytes:
// the next power of two, at least minRingBlock, at most the maximum.
func (r *Ring) grow(need int) {
	nb := r.block(min(max(nextPow2(need), minRingBlock), r.limit()))
	if r.n > 0 {
		k := copy(nb, r.buf[r.head:min(r.head+r.n, len(r.buf))])
		copy(nb[k:], r.buf[:r.n-k])
	}
	if r.buf != nil {
		r.pool.Put(r.buf)
	}
	r.buf, r.head = nb, 0
}

// linearize makes the unread bytes contiguous. They are in two runs, a at the
// end of the block and t at its start, with free space between:
//
//	[ t | free | a ]
//
// If a fits in the free space, t moves right and a goes to the front; if t
// fits, a moves left and t goes after it. Both move each byte once and need
// no memory. Otherwise (nearly full) the bytes go to a fresh block.
func (r *Ring) linearize() {
	size := len(r.buf)
	a := size - r.head
	t := r.n - a
	free := size - r.n
	switch {
	case a <= free:
		copy(r.buf[a:], r.buf[:t]) // may overlap: copy is a memmove
		copy(r.buf, r.buf[r.head:])
		r.head = 0
	case t <= free:
		copy(r.buf[r.head-t:], r.buf[r.head:])
		copy(r.buf[size-t:], r.buf[:t])
		r.head -= t
	default:
		nb := r.block(size)
		copy(nb, r.buf[r.head:])
		copy(nb[a:], r.buf[:t])
		r.pool.Put(r.buf)
		r.buf, r.head = nb, 0
	}
}

package buffer

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

// Size classes. Every pooled block is a power of two between 64 B and 4 MiB,
// and each class has its own bytebufferpool.Pool.
//
// Why classes on top of bytebufferpool rather than one bytebufferpool.Pool:
// a single pool calibrates one default size and a 95th-percentile maximum
// from the lengths it sees, so with a mix of 64 B leftovers and 64 KiB chain
// blocks it would hand a 64 KiB request a small buffer that must grow (an
// allocation and a copy) and would drop large blocks as outliers. With one
// pool per class every block in a pool has the same length, calibration
// settles on that length, and Get(n) never grows anything.
const (
	minClassShift = 6  // 64 B, a cache line; smaller requests round up to it
	maxClassShift = 22 // 4 MiB; larger requests are allocated and left to the GC
	numClasses    = maxClassShift - minClassShift + 1

	// poison fills every block a debug Pool takes back, so a slice that
	// outlived its block shows the pattern instead of plausible bytes.
	poison byte = 0xDB
)

// PoolOption configures a Pool made by NewPool.
type PoolOption func(*poolConfig)

// poolConfig holds every Pool setting; defaultPoolConfig states the defaults.
type poolConfig struct {
	debug bool
}

func defaultPoolConfig() poolConfig {
	return poolConfig{debug: false}
}

// WithPoolDebug makes the Pool track every block it hands out (default off).
// Returning a block twice, or one the Pool never handed out, then panics with
// a message that says so; blocks are filled with a poison pattern when they
// come back, and a block written after it came back panics when it is handed
// out again. It costs a mutex and a map operation per Get and Put and a pass
// over the block, so it is for tests. The Pool type is the same either way:
// the race detector tests the production code.
func WithPoolDebug(on bool) PoolOption {
	return func(c *poolConfig) { c.debug = on }
}

// Pool hands out byte blocks and takes them back. It is safe for concurrent
// use: a block may be returned on a goroutine other than the one that took it.
//
// The zero value is ready to use (without debug checks), and so is a nil
// *Pool, which allocates every block with make and leaves returned blocks to
// the garbage collector. Blocks above 4 MiB are never pooled. The memory a
// Pool keeps idle is bounded by sync.Pool: it is released over two garbage
// collections when nobody asks for it.
type Pool struct {
	classes [numClasses]bytebufferpool.Pool

	// boxes holds empty *bytebufferpool.ByteBuffer headers. bytebufferpool
	// stores blocks inside such a header, while Get and Put trade in bare
	// []byte; recycling the headers keeps the exchange free of allocations.
	boxes sync.Pool

	// segs holds the list nodes of Chain and View, so that queueing a block
	// allocates nothing in steady state.
	segs sync.Pool

	// outstanding is the capacity handed out by Get and not yet returned.
	// Get and Put on any goroutine write it; Outstanding reads it.
	outstanding atomic.Int64

	// debug is nil unless WithPoolDebug(true); set once by NewPool.
	debug *poolDebug
}

// poolDebug tracks the blocks a debug Pool has handed out.
type poolDebug struct {
	mu sync.Mutex // protects live
	// live maps the address of each block handed out and not yet returned
	// to its capacity. Addresses are kept as integers so the map does not
	// keep dropped blocks alive; a live block cannot move or be freed, so
	// its address stays unique while it is in the map.
	live map[uintptr]int
}

// NewPool returns a Pool configured by opts.
func NewPool(opts ...PoolOption) *Pool {
	cfg := defaultPoolConfig()
	for _, o := range opts {
		o(&cfg)
	}
	p := &Pool{}
	if cfg.debug {
		p.debug = &poolDebug{live: make(map[uintptr]int)}
	}
	return p
}

// Get returns a block with len(b) == n; its capacity is n rounded up to a
// size class (a power of two from 64 B to 4 MiB), and all of it is the
// caller's. The block stays the caller's until it is given to Put. Its bytes
// are not zeroed. Get(0) returns nil; a negative n panics.
func (p *Pool) Get(n int) []byte {
	if n < 0 {
		panic("buffer: Pool.Get with a negative size")
	}
	if n == 0 {
		return nil
	}
	if p == nil {
		return make([]byte, n)
	}
	bb := p.getBox(n)
	b := bb.B
	if cap(b) <= 1<<maxClassShift {
		bb.B = nil
		p.boxes.Put(bb) // a header made for an unpooled block is just dropped
	}
	return b[:n]
}

// Put returns a block obtained from Get of the same Pool. Any length of the
// block may be passed (b[:0] is fine) but it must start where Get's did.
// After Put the caller must not touch the block. Put(nil) does nothing.
func (p *Pool) Put(b []byte) {
	if p == nil || cap(b) == 0 {
		return
	}
	bb, _ := p.boxes.Get().(*bytebufferpool.ByteBuffer)
	if bb == nil {
		bb = new(bytebufferpool.ByteBuffer)
	}
	bb.B = b
	p.putBox(bb)
}

// getBox is Get for this package's own types: it returns the block (full
// capacity, at least n > 0 bytes) in the bytebufferpool header it was stored
// in. Chain and View keep the header beside the block and give both back
// with putBox, which saves two sync.Pool operations per block over Get and
// Put. Blocks above the largest class come in a new header.
func (p *Pool) getBox(n int) *bytebufferpool.ByteBuffer {
	if p == nil {
		return &bytebufferpool.ByteBuffer{B: make([]byte, n)}
	}
	c := classOf(n)
	var bb *bytebufferpool.ByteBuffer
	if c < 0 {
		bb = &bytebufferpool.ByteBuffer{B: make([]byte, n)}
	} else {
		size := 1 << (c + minClassShift)
		bb = p.classes[c].Get()
		if cap(bb.B) == size {
			bb.B = bb.B[:size]
		} else {
			// A header bytebufferpool made because the class was empty; its
			// buffer (if any) is not of our size.
			bb.B = make([]byte, size)
		}
	}
	p.outstanding.Add(int64(len(bb.B)))
	if p.debug != nil {
		p.debug.get(bb.B)
	}
	return bb
}

// putBox takes back a block and its header; bb.B may have any length but
// must start where the block did. Neither may be touched afterwards.
func (p *Pool) putBox(bb *bytebufferpool.ByteBuffer) {
	if p == nil || cap(bb.B) == 0 {
		return
	}
	b := bb.B[:cap(bb.B)]
	if p.debug != nil {
		// Before the block is visible to other goroutines again.
		p.debug.put(b)
	}
	p.outstanding.Add(-int64(len(b)))
	c := exactClass(len(b))
	if c < 0 {
		return // too large to pool, or not a class size: the GC takes it
	}
	// The full length matters: bytebufferpool calibrates on len(bb.B) and
	// would otherwise learn that every block is empty and drop them.
	bb.B = b
	p.classes[c].Put(bb)
}

// Outstanding reports the bytes of capacity handed out by Get and not yet
// returned with Put. It is safe to call from any goroutine.
func (p *Pool) Outstanding() int64 {
	if p == nil {
		return 0
	}
	return p.outstanding.Load()
}

// getSeg returns a zeroed list node for a Chain or View.
func (p *Pool) getSeg() *segment {
	if p != nil {
		if s, _ := p.segs.Get().(*segment); s != nil {
			return s
		}
	}
	return new(segment)
}

// putSeg zeroes s, so the pool does not keep blocks or callbacks alive, and
// keeps it for reuse.
func (p *Pool) putSeg(s *segment) {
	*s = segment{}
	if p != nil {
		p.segs.Put(s)
	}
}

func (d *poolDebug) get(b []byte) {
	// A recycled block is all poison; a new one is all zeros. Anything else
	// was written after it came back. (A write of zeros over the whole block
	// would go unseen.)
	if first := b[0]; first == poison || first == 0 {
		for i, x := range b {
			if x != first {
				panic(fmt.Sprintf("buffer: pooled block of %d bytes was written at offset %d after it was returned to the Pool (use after Put)", len(b), i))
			}
		}
	} else {
		panic(fmt.Sprintf("buffer: pooled block of %d bytes was written at offset 0 after it was returned to the Pool (use after Put)", len(b)))
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	d.mu.Lock()
	_, dup := d.live[addr]
	d.live[addr] = len(b)
	d.mu.Unlock()
	if dup {
		panic("buffer: Pool handed out a block that is already out (pool invariant broken)")
	}
}

func (d *poolDebug) put(b []byte) {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	d.mu.Lock()
	size, ok := d.live[addr]
	delete(d.live, addr)
	d.mu.Unlock()
	switch {
	case !ok:
		panic(fmt.Sprintf("buffer: Pool.Put of a block (cap %d) that is not out: returned twice, or not from this Pool, or not starting where Get's block did", len(b)))
	case size != len(b):
		panic(fmt.Sprintf("buffer: Pool.Put of a block with cap %d, but Get handed it out with cap %d", len(b), size))
	}
	for i := range b {
		b[i] = poison
	}
}

// classOf returns the size class for a request of n > 0 bytes, or -1 when n
// is above the largest class.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxClassShift {
		return -1
	}
	return shift - minClassShift
}

// exactClass returns the class whose blocks are exactly size bytes, or -1.
func exactClass(size int) int {
	if size < 1<<minClassShift || size > 1<<maxClassShift || size&(size-1) != 0 {
		return -1
	}
	return bits.Len(uint(size)) - 1 - minClassShift
}

// nextPow2 returns the least power of two >= n, for n >= 1.
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

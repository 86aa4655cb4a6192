package engine

import (
	"sync"
	"sync/atomic"

	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/shard"
	"golang.org/x/sys/unix"
)

// maxIovecs caps the slices handed to one writev (the kernel's IOV_MAX is
// 1024; 64 covers a deep pipeline of small messages).
const maxIovecs = 64

// shardCtx is the engine's side of one shard: the loop, its shared read
// buffer, its connections and counters.
type shardCtx struct {
	e    *Engine
	idx  int
	loop *shard.Loop
	pool *buffer.Pool

	// Loop only.
	readBuf     []byte
	readFd      int                         // the fd readInto reads from
	readInto    func(p []byte) (int, error) // made once: read(readFd, p)
	bufs        [][]byte                    // scratch for writev
	iov         []unix.Iovec                // scratch for writev
	dirty       []*Conn                     // connections with output to flush
	dirtyNext   int                         // the next dirty entry flushDirty takes
	queued      int                         // output bytes queued in this shard's connections
	queuedShown int                         // the last queued value stored in queuedBytes
	nextID      uint64                      // the per-shard part of the next ID
	rereads     []*Conn                     // edge-triggered: reads to finish
	dialing     map[int]*dialState          // connects in progress, by fd
	spareBufs   []*connBufs                 // for connections that need buffers, see connBufs
	releases    []buffer.Release            // release hooks due to run, see runReleases
	releaseNext int                         // the next entry runReleases takes
	releasing   bool                        // runReleases is running

	// view is the unread rest of the read buffer while viewOf's OnTraffic
	// runs (see Conn.view).
	view   []byte
	viewOf *Conn

	// byID holds the live connections. The loop writes it under mu (once
	// per connection); any goroutine may look an ID up.
	mu   sync.Mutex
	byID connTable

	// async carries AsyncWrite requests to the loop, handoffs accepted fds
	// (see batch). The drain tasks are method values made once: making one
	// per post would allocate.
	async           batch[asyncWrite]
	drainAsyncFn    func()
	handoffs        batch[handedOff]
	drainHandoffsFn func()

	// Counters: the loop writes, any goroutine reads.
	live     atomic.Int64 // live connections (the balancer's load)
	opened   atomic.Uint64
	closed   atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	// queuedBytes publishes queued, the output bytes waiting in this
	// shard's connections; flushDirty stores it when it changed.
	queuedBytes atomic.Int64
	panics      atomic.Uint64
	loopDone    chan struct{} // closed when the loop goroutine has returned
	tid         atomic.Int64  // the loop's OS thread
}

func newShardCtx(e *Engine, idx int, loop *shard.Loop) *shardCtx {
	s := &shardCtx{
		e:        e,
		idx:      idx,
		loop:     loop,
		pool:     e.pool,
		readBuf:  make([]byte, e.cfg.readBuf),
		iov:      make([]unix.Iovec, maxIovecs),
		bufs:     make([][]byte, 0, maxIovecs),
		dialing:  make(map[int]*dialState),
		loopDone: make(chan struct{}),
	}
	s.readInto = func(p []byte) (int, error) { return rawRead(s.readFd, p) }
	s.drainAsyncFn = s.drainAsync
	s.drainHandoffsFn = s.drainHandoffs
	return s
}

// flushDirty writes the output that callbacks queued. Every engine entry
// point on the loop ends with it, so writes made during one callback leave
// in one writev.
//
// It is re-entrant: a flush runs handler code (OnDrained, AsyncWrite
// callbacks), and a panic there aborts the connection, whose recovery
// flushes again. dirtyNext is shared by the nested calls, so each entry is
// taken once and the list is only truncated when all of it was taken.
func (s *shardCtx) flushDirty() {
	for s.dirtyNext < len(s.dirty) {
		c := s.dirty[s.dirtyNext]
		s.dirty[s.dirtyNext] = nil
		s.dirtyNext++
		c.flags &^= flagDirty
		if c.state != stateClosed && c.flags&flagWantWrite == 0 {
			c.flushGuarded()
		}
		c.returnBufs()
	}
	s.dirty = s.dirty[:0]
	s.dirtyNext = 0
	if s.queued != s.queuedShown {
		s.queuedShown = s.queued
		s.queuedBytes.Store(int64(s.queued))
	}
}

// runReleases runs the release hooks that sending or dropping output has
// finished: AsyncWrite callbacks and WriteOwned releases. They are handler
// code, so they run only here, once the flush or close that finished them
// has done its bookkeeping, and whatever they do (write, flush, close,
// abort, panic) finds the connection consistent. Hooks never nest: those
// that a hook's own Flush or Close finishes join the list, and the call
// already running takes them, in order. A panic in a hook leaves the rest
// to run, each once, before it goes on to the caller's panic guard.
func (s *shardCtx) runReleases() {
	if s.releasing || s.releaseNext == len(s.releases) {
		return
	}
	s.releasing = true
	defer s.endReleases()
	for s.releaseNext < len(s.releases) {
		r := s.releases[s.releaseNext]
		s.releases[s.releaseNext] = buffer.Release{}
		s.releaseNext++
		r.Run()
	}
}

// endReleases ends runReleases: after a panic, it runs the hooks still
// due (the panic goes on once they have run); otherwise it empties the
// list.
func (s *shardCtx) endReleases() {
	s.releasing = false
	if s.releaseNext < len(s.releases) {
		s.runReleases()
		return
	}
	s.releases = s.releases[:0]
	s.releaseNext = 0
}

// flushGuarded is flush (or drained) for flushDirty: a panic in the
// handler code it runs aborts this connection only, as in any other
// callback, instead of escaping into the shard's task and leaving the
// dirty list half done.
func (c *Conn) flushGuarded() {
	defer c.recoverPanic()
	if c.outLen() > 0 {
		c.flush()
	} else {
		c.drained()
	}
}

// requeueRead remembers an edge-triggered connection whose read budget ran
// out with bytes still waiting: no new edge will report them. One task per
// batch finishes them after this round's I/O, with a fresh budget, so a
// flooding connection gets one budget per round like the others.
func (s *shardCtx) requeueRead(c *Conn) {
	if len(s.rereads) == 0 {
		_ = s.loop.Submit(s.finishRereads)
	}
	s.rereads = append(s.rereads, c)
}

// finishRereads is requeueRead's task. It ends with flushDirty like every
// other entry point: the handlers it runs write, and those writes must
// leave now, not whenever some other event flushes the shard.
func (s *shardCtx) finishRereads() {
	batch := s.rereads
	s.rereads = nil
	for _, c := range batch {
		if c.state != stateClosed && c.wantRead() {
			c.rereadGuarded()
		}
	}
	s.flushDirty()
}

// rereadGuarded is readReady under the connection's panic guard.
func (c *Conn) rereadGuarded() {
	defer c.recoverPanic()
	// No report to go by: read to EAGAIN, short reads included, so an EOF
	// already waiting is not missed.
	c.readReady(shard.EventRead | shard.EventPeerClosed)
}

// register makes a Conn of a connected fd on this shard and opens it. Loop
// only.
func (s *shardCtx) register(fd int, h Handler, isUnix bool) *Conn {
	s.nextID++
	c := &Conn{sh: s, h: h, fd: int32(fd), id: uint64(s.idx)<<48 | s.nextID}
	if isUnix {
		c.flags |= flagUnix
	}
	s.mu.Lock()
	s.byID.put(c)
	s.mu.Unlock()
	s.opened.Add(1)
	c.updateInterest()
	if c.state == stateClosed {
		return c
	}
	c.startTimers()
	c.flags |= flagOpened
	if err := c.open(h); err != nil {
		c.reject(err)
	}
	return c
}

// open runs OnOpen. A panic there aborts the connection (its OnClose gets
// ErrPanic) like a panic in any other callback; it must not escape into the
// shard's task, which would leave the connection registered and its fd
// open with nobody to close it.
func (c *Conn) open(h Handler) error {
	defer c.recoverPanic()
	return h.OnOpen(c)
}

// forget removes a closed connection from the shard's tables.
func (s *shardCtx) forget(c *Conn) {
	s.mu.Lock()
	ok := s.byID.remove(c.id)
	s.mu.Unlock()
	if !ok {
		return
	}
	s.live.Add(-1)
	s.e.liveTotal.Add(-1)
	s.closed.Add(1)
}

// snapshot returns the live connections. Loop only.
func (s *shardCtx) snapshot() []*Conn {
	s.mu.Lock()
	all := s.byID.appendAll(make([]*Conn, 0, s.byID.n))
	s.mu.Unlock()
	return all
}

// lookup returns the live connection with the ID, from any goroutine. The
// result may close at any moment; use it only through the shard's queue.
func (s *shardCtx) lookup(id uint64) (*Conn, bool) {
	s.mu.Lock()
	c := s.byID.get(id)
	s.mu.Unlock()
	return c, c != nil
}

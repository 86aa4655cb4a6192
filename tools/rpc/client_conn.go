package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// maxBatch is the most calls drain writes in one writev: the engine sends
// up to 64 slices straight from the caller's memory (engine.Conn.Writev).
const maxBatch = 64

// clientConn is one connection of the pool, for its whole life: it is
// dialled again with back-off each time the connection is lost. It is the
// connection's engine.Handler.
//
// Calls reach the shard through a queue: a caller appends under mu and,
// if the queue was idle, posts one task (Handle.Do) that takes everything
// queued and writes it in one go. So many callers cost the shard one task
// and one writev, not one each.
//
//	down --dial--> dialing --ok--> up --close--> down (retry after back-off)
//	                  \--fail--> down (retry after back-off, doubled)
type clientConn struct {
	engine.BaseHandler
	cl    *Client
	idx   int
	shard int

	// Guarded by mu: what callers on other goroutines touch.
	mu     sync.Mutex
	up     atomic.Bool   // a connection is open; written under mu, read without it to skip a down one
	handle engine.Handle // the open connection, for Do
	queue  []*call       // calls waiting for the shard
	spare  []*call       // the other queue slice, reused
	posted bool          // a drain task is on its way
	retry  *time.Timer   // retryOffShard's, while a first dial the engine refused waits to be retried

	// Loop only (after NewClient started the engine).
	c        *engine.Conn
	pending  []*call  // by slot: the calls written and not yet answered
	iov      [][]byte // send's scratch: the frames of one batch
	held     []*call  // WithCoalescing: calls taken from the queue, not yet written
	free     []uint32 // free slots of pending
	seq      uint32   // the next request ID's high half
	backoff  time.Duration
	redial   *engine.Timer // made by the first retryLater; fires redialFn
	dialing  atomic.Bool   // a dial is in progress; set also off the shard (NewClient, retryOffShard)
	drainFn  func(*engine.Conn)
	redialFn func()

	first    func() // NewClient's wait for the first dial; nil after it
	firstErr atomic.Pointer[error]
}

func newClientConn(cl *Client, idx, shard int) *clientConn {
	cc := &clientConn{cl: cl, idx: idx, shard: shard, backoff: cl.cfg.backoffMin}
	cc.dialing.Store(true) // NewClient dials it
	cc.drainFn = cc.drain
	cc.redialFn = cc.redialNow
	return cc
}

// dial starts a connect on the connection's shard.
func (cc *clientConn) dial() error {
	cc.dialing.Store(true)
	return cc.cl.eng.Dial(cc.cl.addr, cc.dialed,
		engine.OnShard(cc.shard), engine.DialTimeout(cc.cl.cfg.dialTimeout), engine.DialHandler(cc))
}

// dialed is the dial's callback. Loop only.
func (cc *clientConn) dialed(c *engine.Conn, err error) {
	cc.dialing.Store(false)
	if first := cc.first; first != nil {
		cc.first = nil
		if err != nil {
			cc.firstErr.Store(&err)
		}
		defer first()
	} else if err == nil {
		cc.cl.stats.reconnects.Add(1)
	}
	if err != nil {
		if !errors.Is(err, engine.ErrEngineStopped) {
			cc.retryLater(err)
		}
		return
	}
	h, ok := cc.cl.eng.Conn(c.ID())
	if !ok {
		return // closed already; OnClose scheduled the retry
	}
	cc.c = c
	cc.backoff = cc.cl.cfg.backoffMin
	cc.mu.Lock()
	cc.handle = h
	cc.up.Store(true)
	cc.mu.Unlock()
	if l := cc.cl.cfg.logger; l != nil {
		l.Info("rpc: connected", "conn", cc.idx, "addr", cc.cl.addr)
	}
}

// retryLater schedules the next dial after the back-off, on a timer of
// the connection's shard, and doubles the back-off. Loop only.
func (cc *clientConn) retryLater(err error) {
	if cc.cl.closing.Load() {
		return
	}
	d := cc.backoff
	cc.backoff = min(2*d, cc.cl.cfg.backoffMax)
	if l := cc.cl.cfg.logger; l != nil {
		l.Warn("rpc: connection down", "conn", cc.idx, "addr", cc.cl.addr, "retry_in", d, "err", err)
	}
	if cc.redial != nil {
		cc.redial.Reset(d)
		return
	}
	t, terr := cc.cl.eng.AfterFunc(cc.shard, d, cc.redialFn)
	if terr != nil {
		// Not on the shard, which every caller is; nothing to retry on.
		if l := cc.cl.cfg.logger; l != nil {
			l.Error("rpc: no reconnect timer", "conn", cc.idx, "err", terr)
		}
		return
	}
	cc.redial = t
}

// redialNow is the reconnect timer's callback: it dials again, unless a
// connection or a dial is there already. Loop only.
func (cc *clientConn) redialNow() {
	if cc.c != nil || cc.dialing.Load() || cc.cl.closing.Load() {
		return
	}
	if err := cc.dial(); err != nil {
		cc.dialing.Store(false)
		cc.retryLater(err)
	}
}

// retryOffShard retries, after d and then with back-off, a first dial the
// engine refused when NewClient made it. NewClient runs on no shard, so no
// shard timer can be armed for it; a Go timer can, until a dial is
// accepted: from then on its callback runs on the shard, and retryLater
// takes over. Close stops it (stopRetries). Any goroutine.
func (cc *clientConn) retryOffShard(d time.Duration) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.cl.closing.Load() {
		return
	}
	cc.retry = time.AfterFunc(d, func() {
		if cc.cl.closing.Load() {
			return
		}
		if err := cc.dial(); err != nil {
			cc.dialing.Store(false)
			if l := cc.cl.cfg.logger; l != nil {
				l.Warn("rpc: dial refused", "conn", cc.idx, "addr", cc.cl.addr, "retry_in", d, "err", err)
			}
			cc.retryOffShard(min(2*d, cc.cl.cfg.backoffMax))
		}
	})
}

// enqueue hands k to the connection if it is up. Any goroutine.
func (cc *clientConn) enqueue(k *call) bool {
	if !cc.up.Load() {
		return false
	}
	cc.mu.Lock()
	if !cc.up.Load() {
		cc.mu.Unlock()
		return false
	}
	k.cc = cc
	cc.queue = append(cc.queue, k)
	post := !cc.posted
	cc.posted = true
	h := cc.handle
	cc.mu.Unlock()
	if post {
		if err := h.Do(cc.drainFn); err != nil {
			// The engine is gone, so is the shard: nothing else will
			// take the queue.
			cc.failQueued(fmt.Errorf("%w: %w", ErrClosed, err))
		}
	}
	return true
}

// failQueued fails every call in the queue. The queue is taken under mu,
// so each call is failed once, here or by the shard.
func (cc *clientConn) failQueued(err error) {
	cc.mu.Lock()
	q := cc.queue
	cc.queue, cc.posted = nil, false
	cc.mu.Unlock()
	for _, k := range q {
		cc.cl.stats.lost.Add(1)
		cc.cl.finish(k, nil, err)
	}
}

// drain writes every queued call. Loop only (Handle.Do, which skips it
// once the connection is closed: OnClose then takes the queue).
func (cc *clientConn) drain(c *engine.Conn) {
	cc.mu.Lock()
	q := cc.queue
	cc.queue, cc.spare = cc.spare[:0], nil
	cc.posted = false
	cc.mu.Unlock()
	whole := q
	sh := &cc.cl.shards[cc.shard]
	if err := sh.ensureTimer(); err != nil {
		// Without a timer the calls could not time out: fail them
		// rather than let them wait for ever.
		for i, k := range q {
			q[i] = nil
			cc.cl.finish(k, nil, fmt.Errorf("%w: no timer for calls: %w", ErrUnavailable, err))
		}
		q = q[:0]
	}
	if cc.cl.cfg.coalesce {
		cc.held = append(cc.held, q...)
		clear(q)
		cc.flushHeld(c)
	} else {
		cc.send(c, q)
	}
	q = whole
	cc.mu.Lock()
	if cc.spare == nil {
		cc.spare = q[:0]
	}
	cc.mu.Unlock()
}

// send writes the calls of q and gives each a pending slot, or fails it.
// Loop only.
func (cc *clientConn) send(c *engine.Conn, q []*call) {
	sh := &cc.cl.shards[cc.shard]
	// The batch leaves in one writev (Conn.Writev), straight from the
	// calls' frames when it is large: one system call and no copy per
	// call, where a Write each cost a write(2) each for 4 KiB requests.
	for len(q) > 0 {
		batch := q[:min(len(q), maxBatch)]
		q = q[len(batch):]
		iov := cc.iov[:0]
		for _, k := range batch {
			cc.alloc(k)
			binary.BigEndian.PutUint64(k.frame[4:], k.id)
			iov = append(iov, k.frame)
		}
		_, err := c.Writev(iov)
		clear(iov)
		cc.iov = iov[:0]
		if err != nil {
			if errors.Is(err, engine.ErrOutputFull) {
				// The connection is fine, its queue is not: the
				// callers may retry later.
				err = fmt.Errorf("%w: %w", ErrOverloaded, err)
			} else {
				err = fmt.Errorf("%w: %w", ErrConnLost, err)
			}
		}
		for i, k := range batch {
			batch[i] = nil
			if err == nil {
				sh.push(k)
				continue
			}
			slot := uint32(k.id)
			cc.pending[slot] = nil
			cc.free = append(cc.free, slot)
			if !errors.Is(err, ErrOverloaded) {
				cc.cl.stats.lost.Add(1)
			}
			cc.cl.finish(k, nil, err)
		}
	}
}

// inflight is the number of calls written and not yet answered. Loop only.
func (cc *clientConn) inflight() int { return len(cc.pending) - len(cc.free) }

// flushHeld writes the held calls (WithCoalescing) once there are at least
// as many as the connection has in flight: calls started while answers
// trickle in leave together, and a held call waits at most until its
// connection's in-flight calls have ended (answered, timed out or lost),
// each of which checks again. Loop only.
func (cc *clientConn) flushHeld(c *engine.Conn) {
	if len(cc.held) == 0 || len(cc.held) < cc.inflight() || c == nil {
		return
	}
	// send's failures run callbacks, which may start calls; those reach
	// held only through a later drain task, so held is not touched here.
	cc.send(c, cc.held)
	cc.held = cc.held[:0]
}

// alloc gives k a pending slot and its request ID. Loop only.
func (cc *clientConn) alloc(k *call) uint32 {
	var slot uint32
	if n := len(cc.free); n > 0 {
		slot = cc.free[n-1]
		cc.free = cc.free[:n-1]
	} else {
		slot = uint32(len(cc.pending))
		cc.pending = append(cc.pending, nil)
	}
	cc.seq++
	k.id = uint64(cc.seq)<<32 | uint64(slot)
	cc.pending[slot] = k
	return slot
}

// take removes and returns the pending call with id, or nil when there is
// none (it timed out: the answer is late). Loop only.
func (cc *clientConn) take(id uint64) *call {
	slot := uint32(id)
	if int(slot) >= len(cc.pending) {
		return nil
	}
	k := cc.pending[slot]
	if k == nil || k.id != id {
		return nil
	}
	cc.pending[slot] = nil
	cc.free = append(cc.free, slot)
	return k
}

// OnTraffic completes the calls whose answers arrived, in whatever order
// the server sent them.
func (cc *clientConn) OnTraffic(c *engine.Conn) {
	cl := cc.cl
	sh := &cl.shards[cc.shard]
	for !c.Closed() {
		frame, n, err := cl.framer.Decode(c)
		if err != nil {
			if !errors.Is(err, codec.ErrNeedMore) {
				cc.broken(c, err)
				return
			}
			cc.flushHeld(c) // answers ended calls
			return
		}
		hd, err := DecodeHeader(frame)
		if err == nil && hd.Flags&FlagResponse == 0 {
			err = fmt.Errorf("%w: a request frame (ID %d) sent to the client", ErrBadHeader, hd.ID)
		}
		if err != nil {
			cc.broken(c, err)
			return
		}
		k := cc.take(hd.ID)
		if k == nil {
			cl.stats.late.Add(1)
			_, _ = c.Discard(n)
			continue
		}
		sh.remove(k)
		if hd.Status == StatusOK {
			cl.stats.ok.Add(1)
			cl.finish(k, frame[HeaderSize:], nil)
		} else {
			cl.stats.remote.Add(1)
			cl.finish(k, nil, &RemoteError{Status: hd.Status, Message: string(frame[HeaderSize:])})
		}
		_, _ = c.Discard(n)
	}
}

// broken cuts a connection whose server broke the protocol: the stream
// cannot be framed past the bad frame, and the protocol has no message to
// tell the server so, so there is nothing to close gracefully for.
// OnClose's reason wraps engine.ErrAborted and err; the connection's calls
// fail with it.
func (cc *clientConn) broken(c *engine.Conn, err error) {
	c.AbortWith(fmt.Errorf("rpc: bad frame from the server: %w", err))
}

// OnReadEOF: the server closed its side, so no answer can come; close now
// rather than wait for the calls to time out.
func (cc *clientConn) OnReadEOF(c *engine.Conn) { c.Close() }

// OnClose fails every call the connection held or had queued and
// schedules the reconnect.
func (cc *clientConn) OnClose(c *engine.Conn, reason error) {
	cl := cc.cl
	cc.mu.Lock()
	cc.up.Store(false)
	cc.handle = engine.Handle{}
	cc.mu.Unlock()
	if cc.c != c {
		return // a connection dialed() never adopted
	}
	cc.c = nil
	var err error
	if cl.closing.Load() {
		err = fmt.Errorf("%w: %w", ErrClosed, reason)
	} else {
		err = fmt.Errorf("%w: %w", ErrConnLost, reason)
	}
	sh := &cl.shards[cc.shard]
	for slot, k := range cc.pending {
		if k == nil {
			continue
		}
		cc.pending[slot] = nil
		sh.remove(k)
		cl.stats.lost.Add(1)
		cl.finish(k, nil, err)
	}
	cc.pending, cc.free = cc.pending[:0], cc.free[:0]
	held := cc.held
	cc.held = nil
	for _, k := range held {
		cl.stats.lost.Add(1)
		cl.finish(k, nil, err)
	}
	cc.failQueued(err)
	if !cl.closing.Load() {
		cc.retryLater(reason)
	}
}

package rpc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// Callback receives a call's answer: resp, valid only until the callback
// returns, or the error (a RemoteError from the server, or one wrapping
// ErrTimeout, ErrConnLost, ErrClosed). It runs on the shard that owns the
// call's connection and must not block; it may start new calls.
type Callback func(resp []byte, err error)

// Client calls one server over a pool of connections spread over its own
// engine's shards. Go and Call are safe from any goroutine, callbacks
// included.
type Client struct {
	cfg    clientConfig
	addr   string
	eng    *engine.Engine
	framer *codec.LengthField
	epoch  time.Time     // the clock calls' deadlines are measured on
	shards []clientShard // loop only, per shard
	conns  []*clientConn
	next   atomic.Uint32 // round-robin over conns
	slots  chan struct{} // one token per call in flight: the back-pressure
	calls  sync.Pool     // *call
	waits  sync.Pool     // *waiter

	closing atomic.Bool
	stats   clientCounters
}

// clientCounters are the client's totals; shards add, Stats reads.
type clientCounters struct {
	ok, remote, timeouts, late, lost, reconnects atomic.Uint64
}

// ClientStats are a client's totals since NewClient.
type ClientStats struct {
	OK         uint64 // calls answered with StatusOK
	Remote     uint64 // calls answered with an error status
	Timeouts   uint64 // calls failed with ErrTimeout
	Late       uint64 // answers that came after their call timed out, dropped
	Lost       uint64 // calls failed because their connection closed
	Reconnects uint64 // connections made again after one was lost
}

// call is one call from Go to its completion. Pooled; between the two it
// belongs to whoever holds it: the caller, then the connection's queue
// (under its mutex), then its shard.
type call struct {
	cc       *clientConn
	id       uint64 // (sequence << 32) | slot in cc.pending
	frame    []byte // the request frame; its ID is filled in on the shard
	cb       Callback
	deadline time.Duration // on the client's clock
	timeout  time.Duration // for the error message
	hidx     int           // index in the shard's deadline heap; -1 when not in it
}

// NewClient returns a client of the server at addr ("host:port",
// "tcp://...", "unix:///path"). It makes the pool's connections and waits
// for each to connect or fail once; it fails when none connects. Lost
// connections are made again with back-off, for the client's whole life.
func NewClient(addr string, opts ...ClientOption) (*Client, error) {
	cfg := defaultClientConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.maxInflight < 1:
		return nil, fmt.Errorf("%w: WithMaxInflight(%d): want >= 1", ErrInvalidOption, cfg.maxInflight)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("%w: WithTimeout(%v): want > 0", ErrInvalidOption, cfg.timeout)
	case cfg.backoffMin <= 0 || cfg.backoffMax < cfg.backoffMin:
		return nil, fmt.Errorf("%w: WithBackoff(%v, %v): want 0 < min <= max", ErrInvalidOption, cfg.backoffMin, cfg.backoffMax)
	case cfg.conns < 0 || cfg.shards < 0:
		return nil, fmt.Errorf("%w: WithConns(%d), WithClientShards(%d): want >= 0", ErrInvalidOption, cfg.conns, cfg.shards)
	case cfg.maxFrame < HeaderSize || cfg.maxFrame > 1<<30:
		return nil, fmt.Errorf("%w: WithClientMaxFrame(%d): want %d..%d", ErrInvalidOption, cfg.maxFrame, HeaderSize, 1<<30)
	}
	f, err := newFramer(cfg.maxFrame)
	if err != nil {
		return nil, err
	}
	cl := &Client{cfg: cfg, addr: addr, framer: f, epoch: time.Now(), slots: make(chan struct{}, cfg.maxInflight)}
	cl.calls.New = func() any { return &call{hidx: -1} }
	cl.waits.New = func() any { return newWaiter() }

	// The pool is laid out before the shards start, so that their
	// callbacks find it complete without a lock.
	shards := cfg.shards
	if shards == 0 {
		shards = runtime.GOMAXPROCS(0)
	}
	n := cfg.conns
	if n == 0 {
		n = shards
	}
	cl.shards = make([]clientShard, shards)
	for i := range cl.shards {
		sh := &cl.shards[i]
		sh.cl, sh.idx = cl, i
		sh.expireFn = sh.expire
	}
	cl.conns = make([]*clientConn, n)
	for i := range cl.conns {
		cc := newClientConn(cl, i, i%shards)
		cl.conns[i] = cc
		cl.shards[cc.shard].conns = append(cl.shards[cc.shard].conns, cc)
	}
	eopts := append(cfg.engineOpts[:len(cfg.engineOpts):len(cfg.engineOpts)], engine.WithShards(shards))
	e, err := engine.New(clientHandler{}, eopts...)
	if err != nil {
		return nil, err
	}
	cl.eng = e
	if err := cl.connect(); err != nil {
		cl.closing.Store(true) // no retry of any kind from here
		cl.stopRetries()
		_ = e.Stop(context.Background())
		return nil, err
	}
	return cl, nil
}

// connect dials the pool and waits for every first dial to end.
func (cl *Client) connect() error {
	var wg sync.WaitGroup
	wg.Add(len(cl.conns))
	for _, cc := range cl.conns {
		cc.first = wg.Done
		if err := cc.dial(); err != nil {
			// The engine refused the dial outright (its offload pool
			// full, resolving a host name, say): no callback will run
			// for it on the shard, so count it here and retry it from
			// here (see retryOffShard).
			cc.first = nil
			cc.firstErr.Store(&err)
			cc.dialing.Store(false)
			wg.Done()
			cc.retryOffShard(cl.cfg.backoffMin)
		}
	}
	wg.Wait()
	var errs []error
	for _, cc := range cl.conns {
		if cc.up.Load() {
			return nil
		}
		if err := cc.firstErr.Load(); err != nil {
			errs = append(errs, *err)
		}
	}
	return fmt.Errorf("%w %s: %w", ErrUnavailable, cl.addr, errors.Join(errs...))
}

// Go starts a call of method with req, which it copies before returning,
// and arranges for cb to run once with the answer or the error. timeout 0
// means the client's default (WithTimeout). It returns an error, and cb
// never runs, when the call cannot start: ErrOverloaded (MaxInflight calls
// in flight), ErrUnavailable (no connection up), ErrClosed, or a request
// too large for a frame.
func (cl *Client) Go(method uint16, req []byte, timeout time.Duration, cb Callback) error {
	if cb == nil {
		return fmt.Errorf("%w: Go with a nil callback", ErrInvalidOption)
	}
	select {
	case cl.slots <- struct{}{}:
	default:
		return ErrOverloaded
	}
	return cl.start(method, req, timeout, cb, cl.next.Add(1))
}

// GoOn is Go on the pool's connection conn (modulo Conns), or, while that
// one is down, on the next one up. A connection writes the calls queued
// on it since its shard last wrote in one system call, so a caller that
// keeps each stream of calls on one connection (one slot of a load
// generator, one session) has its calls leave in batches when answers
// come back in batches, where Go's round-robin spreads them one per
// connection.
func (cl *Client) GoOn(conn int, method uint16, req []byte, timeout time.Duration, cb Callback) error {
	if cb == nil {
		return fmt.Errorf("%w: GoOn with a nil callback", ErrInvalidOption)
	}
	if conn < 0 {
		return fmt.Errorf("%w: GoOn on connection %d: want >= 0", ErrInvalidOption, conn)
	}
	select {
	case cl.slots <- struct{}{}:
	default:
		return ErrOverloaded
	}
	return cl.start(method, req, timeout, cb, uint32(conn%len(cl.conns)))
}

// Conns returns the number of connections in the pool.
func (cl *Client) Conns() int { return len(cl.conns) }

// start sends a call that holds a slot, trying the pool from connection
// first on; on error it gives the slot back.
func (cl *Client) start(method uint16, req []byte, timeout time.Duration, cb Callback, first uint32) error {
	if cl.closing.Load() {
		<-cl.slots
		return ErrClosed
	}
	if HeaderSize+len(req) > cl.cfg.maxFrame {
		<-cl.slots
		return fmt.Errorf("%w: request of %d bytes, frame limit %d", codec.ErrFrameTooLarge, len(req), cl.cfg.maxFrame)
	}
	if timeout <= 0 {
		timeout = cl.cfg.timeout
	}
	k := cl.calls.Get().(*call)
	k.frame = append(AppendHeader(k.frame[:0], Header{Method: method}, len(req)), req...)
	k.cb, k.timeout = cb, timeout
	k.deadline = cl.now() + timeout
	n := uint32(len(cl.conns))
	for i := range n {
		if cl.conns[(first+i)%n].enqueue(k) {
			return nil
		}
	}
	k.cb = nil
	cl.calls.Put(k)
	<-cl.slots
	return fmt.Errorf("%w %s: all %d connections are down, reconnecting", ErrUnavailable, cl.addr, n)
}

// Call makes a call and waits for its answer, which it appends to dst. The
// timeout is ctx's deadline if it has one, else the client's default. When
// MaxInflight calls are in flight it waits for room. If ctx ends first,
// Call returns ctx's error; the call itself still ends on the shard (its
// answer is dropped).
func (cl *Client) Call(ctx context.Context, method uint16, req, dst []byte) ([]byte, error) {
	timeout := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return dst, context.DeadlineExceeded
		}
	}
	select {
	case cl.slots <- struct{}{}:
	case <-ctx.Done():
		return dst, ctx.Err()
	}
	w := cl.waits.Get().(*waiter)
	if err := cl.start(method, req, timeout, w.cb, cl.next.Add(1)); err != nil {
		cl.waits.Put(w)
		return dst, err
	}
	select {
	case <-w.ch:
		dst, err := append(dst, w.resp...), w.err
		w.err = nil
		cl.waits.Put(w)
		return dst, err
	case <-ctx.Done():
		// w is left to the callback and the garbage collector: it may
		// still be written to, so it never goes back to the pool.
		return dst, ctx.Err()
	}
}

// waiter is Call's rendezvous with its callback.
type waiter struct {
	ch   chan struct{}
	resp []byte
	err  error
	cb   Callback // w.done, bound once
}

func newWaiter() *waiter {
	w := &waiter{ch: make(chan struct{}, 1)}
	w.cb = w.done
	return w
}

func (w *waiter) done(resp []byte, err error) {
	w.resp = append(w.resp[:0], resp...)
	w.err = err
	w.ch <- struct{}{}
}

// Stats returns the client's totals. Any goroutine.
func (cl *Client) Stats() ClientStats {
	return ClientStats{
		OK: cl.stats.ok.Load(), Remote: cl.stats.remote.Load(), Timeouts: cl.stats.timeouts.Load(),
		Late: cl.stats.late.Load(), Lost: cl.stats.lost.Load(), Reconnects: cl.stats.reconnects.Load(),
	}
}

// Inflight returns the number of calls in flight. Any goroutine.
func (cl *Client) Inflight() int { return len(cl.slots) }

// Engine returns the client's engine.
func (cl *Client) Engine() *engine.Engine { return cl.eng }

// Close stops new calls (they fail with ErrClosed), waits for the calls in
// flight to end until ctx ends, then stops the engine: calls still pending
// then fail with an error wrapping ErrClosed. Do not call it from a
// callback: the shard it would block is the one that ends the calls it
// waits for.
func (cl *Client) Close(ctx context.Context) error {
	cl.closing.Store(true)
	defer cl.stopRetries()
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for len(cl.slots) > 0 {
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
		}
		break
	}
	return cl.eng.Stop(ctx)
}

// stopRetries stops the Go timers of retryOffShard. Any goroutine, once
// closing is set (so that none is armed after).
func (cl *Client) stopRetries() {
	for _, cc := range cl.conns {
		cc.mu.Lock()
		if cc.retry != nil {
			cc.retry.Stop()
		}
		cc.mu.Unlock()
	}
}

// now is the client's clock.
func (cl *Client) now() time.Duration { return time.Since(cl.epoch) }

// finish ends a call that has left the shard's tables: the slot goes back
// and the callback runs last, so it may start another call. Loop only, or
// the caller's goroutine when the engine is gone.
func (cl *Client) finish(k *call, resp []byte, err error) {
	cb := k.cb
	k.cc, k.cb = nil, nil
	if cap(k.frame) > 64<<10 {
		k.frame = nil
	}
	cl.calls.Put(k)
	<-cl.slots
	cb(resp, err)
}

package engine

import "fmt"

// asyncWrite is one AsyncWrite or AsyncWritev on its way to the loop.
type asyncWrite struct {
	c    *Conn
	id   uint64
	b    []byte
	bs   [][]byte
	n    int
	done func(error)
}

// AsyncWrite queues b for sending from any goroutine. Calls on one
// connection keep their order, and mix with the loop's own writes in the
// order they reach the loop. The engine does not copy b: leave it untouched
// until done runs.
//
// When AsyncWrite returns nil, done (may be nil) runs exactly once, on the
// connection's shard, with nil once b was handed to the kernel or with the
// error that stopped it (ErrConnClosed, ErrOutputFull, ErrEngineStopped);
// a write that races the engine's stop may instead get
// done(ErrEngineStopped) on the goroutine that saw the shard end. When
// AsyncWrite returns an error, done never runs: ErrOutputFull when the
// bytes already in flight to the shard would pass WithMaxQueuedOutput,
// ErrEngineStopped once the shard is gone.
//
// done runs as WriteOwned's release does: after the flush that sent b (or
// the close that dropped it) has done its bookkeeping, so it may call
// anything a callback may, on this connection or another of the shard. On
// a TLS connection b is sealed when it reaches the shard, and done runs
// once the kernel has its ciphertext; one that reaches the shard before
// the handshake is done fails with ErrNotForTLS. Any goroutine.
func (c *Conn) AsyncWrite(b []byte, done func(error)) error {
	return c.sh.postWrite(asyncWrite{c: c, id: c.id, b: b, n: len(b), done: done})
}

// AsyncWritev is AsyncWrite for several slices sent in order as one write.
// Any goroutine.
func (c *Conn) AsyncWritev(bs [][]byte, done func(error)) error {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return c.sh.postWrite(asyncWrite{c: c, id: c.id, bs: bs, n: n, done: done})
}

func (s *shardCtx) postWrite(w asyncWrite) error {
	max := int64(s.e.cfg.maxQueued)
	if q := w.c.asyncQueued.Add(int64(w.n)); q > max {
		w.c.asyncQueued.Add(-int64(w.n))
		return fmt.Errorf("%w: %d bytes in flight + %d", ErrOutputFull, q-int64(w.n), w.n)
	}
	post, ok := s.async.add(w)
	if !ok {
		w.c.asyncQueued.Add(-int64(w.n))
		return ErrEngineStopped
	}
	if post {
		if err := s.loop.Submit(s.drainAsyncFn); err != nil {
			// The loop closed under us: the engine's shards have no
			// task-queue limit (it never sets shard.WithTaskQueueLimit),
			// so Submit fails for no other reason; one that could fail
			// with ErrQueueFull would need a retry here, not this.
			// Taking our write back out
			// would race with other writers appending after it (the
			// last element need not be ours), so hand the whole queue,
			// ours included, to failAsync: every write in it gets done
			// exactly once with ErrEngineStopped, and we return nil.
			s.failAsync()
		}
	}
	return nil
}

// drainAsync appends every queued AsyncWrite to its connection's output.
// One task per batch, however many writes the batch holds. Loop only.
func (s *shardCtx) drainAsync() {
	writes := s.async.take()
	for i := range writes {
		s.applyGuarded(&writes[i])
	}
	s.async.recycle(writes)
	s.flushDirty()
}

// applyGuarded is applyWrite under the connection's panic guard: done is
// handler code, and a panic in it must abort that connection only, not
// escape the task and drop the rest of the batch (whose done callbacks would
// then never run).
func (s *shardCtx) applyGuarded(w *asyncWrite) {
	defer w.c.recoverPanic()
	s.applyWrite(w)
}

func (s *shardCtx) applyWrite(w *asyncWrite) {
	c := w.c
	c.asyncQueued.Add(-int64(w.n))
	if err := c.writable(w.n); err != nil {
		if c.state != stateOpen {
			err = ErrConnClosed
		}
		if w.done != nil {
			w.done(err)
		}
		return
	}
	if w.n == 0 {
		if w.done != nil {
			w.done(nil)
		}
		return
	}
	if tc := c.tlsConnOf(); tc != nil {
		if err := c.tlsWriteOwned(tc, w.b, w.bs, releaseFor(w.done)); err != nil && w.done != nil {
			w.done(err)
		}
		return
	}
	if w.bs == nil {
		c.queueOwned(w.b, releaseFor(w.done))
	} else {
		last := len(w.bs) - 1
		for last > 0 && len(w.bs[last]) == 0 {
			last--
		}
		for i, b := range w.bs[:last+1] {
			var rel func(bool)
			if i == last {
				rel = releaseFor(w.done)
			}
			if len(b) > 0 || rel != nil {
				c.queueOwned(b, rel)
			}
		}
	}
	c.markDirty()
}

// releaseFor turns an AsyncWrite callback into the outbound chain's release
// hook. The chain runs hooks in order, so the last slice's hook runs after
// every earlier byte was sent.
func releaseFor(done func(error)) func(bool) {
	if done == nil {
		return nil
	}
	return func(sent bool) {
		if sent {
			done(nil)
		} else {
			done(ErrConnClosed)
		}
	}
}

// failAsync runs after the shard's loop is gone: AsyncWrites that were
// accepted but whose drain task the closing loop dropped get their done
// with ErrEngineStopped (on the stopping goroutine, the shard being gone),
// and later ones are refused up front.
func (s *shardCtx) failAsync() {
	for _, w := range s.async.close() {
		w.c.asyncQueued.Add(-int64(w.n))
		if w.done != nil {
			w.done(ErrEngineStopped)
		}
	}
}

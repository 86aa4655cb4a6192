package engine

import "github.com/shardnet/shardnet/buffer"

// flushDirty writes the output that callbacks queued. Every engine entry
// point on the loop ends with it, so writes made during one callback leave
// in one writev.
//
// It is re-entrant: a flush runs handler code (OnDrained, AsyncWrite
// callbacks), and a panic there aborts the connection, whose recovery
// flushes again. dirtyNext is shared by the nested calls, so each entry is
// taken once and the list is only truncated when all of it was taken.
func (s *shardCtx) flushDirty() {
	s.alone = nil // the callback is over: its next answer may go alone again
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
// abort) finds the connection consistent. Hooks never nest: those that a
// hook's own Flush or Close finishes join the list, and the call already
// running takes them, in order. Each runs under its own connection's
// guard: a panic aborts that connection (or, if it is closed already, is
// logged and counted), and the other hooks still run, each once.
func (s *shardCtx) runReleases() {
	if !s.releasing && s.releaseNext < len(s.releases) {
		s.runDueReleases() // out of line: most flushes finish no hook
	}
}

func (s *shardCtx) runDueReleases() {
	s.releasing = true
	for s.releaseNext < len(s.releases) {
		i := s.releaseNext
		r, c := s.releases[i], s.releaseOwners[i]
		s.releases[i], s.releaseOwners[i] = buffer.Release{}, nil
		s.releaseNext++
		c.runRelease(r)
	}
	s.releases, s.releaseOwners = s.releases[:0], s.releaseOwners[:0]
	s.releaseNext = 0
	s.releasing = false
}

// runRelease runs one of c's release hooks under c's guard.
func (c *Conn) runRelease(r buffer.Release) {
	defer c.releasePanic()
	r.Run()
}

// releasePanic, deferred, contains a panic in one of c's release hooks:
// it aborts c, or only logs and counts it if c is closed already.
func (c *Conn) releasePanic() {
	v := recover()
	if v == nil {
		return
	}
	if c.state == stateClosed {
		c.sh.panics.Add(1)
		c.sh.e.cfg.logger.Error("handler panic in a write's release; connection already closed", "conn", c.id, "panic", v)
		return
	}
	c.panicked(v)
}

// flushGuarded is flush (or drained) for flushDirty: a panic in the
// handler code it runs aborts this connection only, as in any other
// callback, instead of escaping into the shard's task and leaving the
// dirty list half done.
func (c *Conn) flushGuarded() {
	defer c.recoverPanic()
	if c.outLen() > 0 || c.flags&flagTLS != 0 { // TLS: plaintext may wait to be sealed
		c.flush()
	} else {
		c.drained()
	}
}

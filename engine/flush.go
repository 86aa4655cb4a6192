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
	if !s.releasing && s.releaseNext < len(s.releases) {
		s.runDueReleases() // out of line: most flushes finish no hook
	}
}

func (s *shardCtx) runDueReleases() {
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
		s.runDueReleases()
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

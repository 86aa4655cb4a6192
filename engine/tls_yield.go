package engine

import "runtime"

// A handshake goroutine that a shard starts, or wakes with the peer's
// bytes, goes first in the queue of the shard's P. If the engine has as
// many shards as Ps, no P may be idle to take it (each shard keeps its P
// while it sleeps in epoll_wait), and it waits until the runtime's sysmon
// notices the P sitting in a system call and takes it back: 20 µs or
// more per wait, twice per handshake, and sysmon's own CPU. Instead the
// shard yields its P once the round's work is done: the goroutine runs at
// once, and the shard's thread gets the P back as soon as the goroutine
// parks (waiting for the peer, or for a CPU slot) or ends.

// yieldToHandshakes queues, once per round, a task that yields the
// shard's P to the goroutines it made runnable, when the engine has no
// spare P for them. Loop only.
func (s *shardCtx) yieldToHandshakes() {
	if s.hsYield || s.e.cfg.shards < runtime.GOMAXPROCS(0) {
		return
	}
	if s.loop.Submit(s.yieldTask) == nil {
		s.hsYield = true
	}
}

// yieldTask is the queued yield; tasks run after the round's events, so
// whatever the round wrote is flushed first.
func (s *shardCtx) yieldTask() {
	s.hsYield = false
	s.flushDirty()
	runtime.Gosched()
}

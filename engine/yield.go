package engine

import "runtime"

// A shard is a goroutine locked to its thread, and it sleeps in
// epoll_wait as an ordinary system call, keeping its P. When every P is
// held by a shard (GOMAXPROCS at most the shard count: one shard and
// GOMAXPROCS=1, say), a goroutine the shard makes runnable (a reader it
// fed, a TLS handshake it started or gave the peer's bytes) has no P to
// run on until the runtime's sysmon notices the P sitting in a system
// call and takes it away, 20 µs to 10 ms later: work the shard handed
// over at once waits that long, twice per request-and-answer, and the
// runtime keeps sysmon waking every 20 µs to do it. So, once per round in
// which it woke a goroutine, the shard gives up its P (runtime.Gosched,
// from a task that runs after the round's events and flushes first): the
// woken goroutines run, queue their answers, and the shard takes those in
// the same round. The shard's goroutine is unlocked from its thread for
// the yield (shard.Loop.Yield), so the thread that holds the P runs the
// woken goroutines and then the shard, without handing the P to another
// thread and back (two futex wakes and two context switches per yield,
// when it stayed locked); a pinned shard (WithCPU) yields locked. With a
// P to spare the runtime starts another thread for the woken goroutine
// itself, and the yield does nothing.
//
// The yield is a task of the shard's own queue, not of a connection's
// (Handle.Do), so it runs whatever happens to the connection that asked
// for it: a round never loses its yield to a close.

// YieldToWoken gives the shard's P, once the round's events are handled
// and what they wrote is flushed, to the goroutines this round made
// runnable (one parked on c that the callback woke, say), when the
// engine's shards hold every P (GOMAXPROCS at most Engine.Shards) and
// those goroutines would otherwise wait until the runtime took the P from
// the sleeping shard. Calls after the first of a round, and calls while
// the runtime has a P to spare, do nothing. A handler that hands work to
// goroutines (an adapter to blocking APIs, as engine/netconn is) calls it
// right after it wakes one. Loop only.
func (c *Conn) YieldToWoken() { c.sh.yieldToWoken() }

// yieldToWoken queues the shard's yield, once per round, when the engine
// has no spare P for the goroutines it woke. Loop only.
func (s *shardCtx) yieldToWoken() {
	if s.yieldQueued || s.e.cfg.shards < runtime.GOMAXPROCS(0) {
		return
	}
	if s.loop.Submit(s.yieldFn) == nil {
		s.yieldQueued = true
	}
}

// yieldTask is the queued yield (yieldFn): tasks run after the round's
// events, and it flushes what they wrote before it lets the woken
// goroutines run.
func (s *shardCtx) yieldTask() {
	s.yieldQueued = false
	s.flushDirty()
	s.loop.Yield()
}

package engine

import (
	"net/netip"
)

// handedOff is an accepted fd on its way from the acceptor to its shard.
type handedOff struct {
	fd     int
	isUnix bool
	lc     *listenConfig // the listener's settings; nil: none (EnrollFd)
}

// postHandoff queues an accepted fd for the shard's loop to register. One
// task carries every fd queued before it runs, and it is made once per
// shard: a burst of accepts costs no allocation per connection. If the loop
// is gone, every fd in the queue is closed and uncounted (the caller's
// included), as a refused connection would be. Any goroutine.
func (s *shardCtx) postHandoff(fd int, isUnix bool, lc *listenConfig) {
	// The hand-off batch is never closed (only AsyncWrite's is), so add
	// always takes the fd.
	if post, _ := s.handoffs.add(handedOff{fd, isUnix, lc}); post {
		if err := s.loop.Submit(s.drainHandoffsFn); err != nil {
			s.dropHandoffs()
		}
	}
}

// drainHandoffs registers the queued fds. Loop only.
func (s *shardCtx) drainHandoffs() {
	fds := s.handoffs.take()
	for _, h := range fds {
		s.registerAccepted(h.fd, h.isUnix, h.lc)
	}
	s.handoffs.recycle(fds)
	// OnOpen may have written (a greeting): this task is the entry point
	// that must send it.
	s.flushDirty()
}

// dropHandoffs closes the queued fds when the loop refused the task that
// would have registered them.
func (s *shardCtx) dropHandoffs() {
	for _, h := range s.handoffs.take() {
		s.live.Add(-1)
		s.e.liveTotal.Add(-1)
		closeFd(h.fd)
	}
}

// handoff gives an accepted fd to a shard: the balancer's pick, or its own
// shard for a reuse-port listener (then it runs on that shard's loop and
// registers at once). lc is the listener's settings (TLS, PROXY header,
// rate limits), nil for none. It reports false when WithMaxConns refused
// the connection (closed, never registered). Any goroutine.
func (e *Engine) handoff(fd int, peer netip.AddrPort, isUnix bool, own int, lc *listenConfig) bool {
	if !e.admit() {
		closeFd(fd)
		return false
	}
	if !isUnix {
		setConnOptions(fd, &e.cfg)
	}
	idx := own
	if idx < 0 {
		idx = e.cfg.balancer.Pick(e.loads, peer)
	}
	s := e.shards[idx]
	// Count the connection now, not when the shard gets to it, so a burst
	// of accepts sees the loads it creates.
	s.live.Add(1)
	if own >= 0 {
		s.registerAccepted(fd, isUnix, lc)
		return true
	}
	s.postHandoff(fd, isUnix, lc)
	return true
}

// registerAccepted makes a Conn of an accepted fd as its listener says: a
// PROXY header first, TLS, or plaintext; rate-limited from the start if
// the listener limits. Loop only.
func (s *shardCtx) registerAccepted(fd int, isUnix bool, lc *listenConfig) {
	if lc == nil {
		s.register(fd, s.e.h, isUnix)
		return
	}
	switch {
	case lc.proxy != nil:
		s.registerProxy(fd, s.e.h, isUnix, lc.proxy, lc.tls, lc.rate)
	case lc.tls != nil:
		s.registerTLS(fd, s.e.h, isUnix, lc.tls, lc.rate)
	default:
		s.registerWith(fd, s.e.h, isUnix, lc.rate)
	}
}

// admit counts a new connection against WithMaxConns, or refuses it.
func (e *Engine) admit() bool {
	n := e.liveTotal.Add(1)
	if max := e.cfg.maxConns; max > 0 && n > int64(max) {
		e.liveTotal.Add(-1)
		e.overLimit.Add(1)
		return false
	}
	return true
}

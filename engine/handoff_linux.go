package engine

import "golang.org/x/sys/unix"

// handedOff is an accepted fd on its way from the acceptor to its shard.
type handedOff struct {
	fd     int
	isUnix bool
}

// postHandoff queues an accepted fd for the shard's loop to register. One
// task carries every fd queued before it runs, and it is made once per
// shard: a burst of accepts costs no allocation per connection. If the loop
// is gone, every fd in the queue is closed and uncounted (the caller's
// included), as a refused connection would be. Any goroutine.
func (s *shardCtx) postHandoff(fd int, isUnix bool) {
	post, ok := s.handoffs.add(handedOff{fd, isUnix})
	if !ok { // never closed today; kept so a refusal cannot leak the fd
		s.live.Add(-1)
		s.e.liveTotal.Add(-1)
		unix.Close(fd)
		return
	}
	if post {
		if err := s.loop.Submit(s.drainHandoffsFn); err != nil {
			s.dropHandoffs()
		}
	}
}

// drainHandoffs registers the queued fds. Loop only.
func (s *shardCtx) drainHandoffs() {
	fds := s.handoffs.take()
	for _, h := range fds {
		s.register(h.fd, s.e.h, h.isUnix)
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
		unix.Close(h.fd)
	}
}

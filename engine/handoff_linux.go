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
	s.hmu.Lock()
	s.handoffs = append(s.handoffs, handedOff{fd, isUnix})
	post := !s.handoffPosted
	s.handoffPosted = true
	s.hmu.Unlock()
	if post {
		if err := s.loop.Submit(s.drainHandoffsFn); err != nil {
			s.dropHandoffs()
		}
	}
}

// drainHandoffs registers the queued fds. Loop only.
func (s *shardCtx) drainHandoffs() {
	s.hmu.Lock()
	batch := s.handoffs
	s.handoffs = s.handoffsSpare[:0]
	s.handoffPosted = false
	s.hmu.Unlock()
	for i, h := range batch {
		s.register(h.fd, s.e.h, h.isUnix)
		batch[i] = handedOff{}
	}
	s.handoffsSpare = batch[:0]
	// OnOpen may have written (a greeting): this task is the entry point
	// that must send it.
	s.flushDirty()
}

// dropHandoffs closes the queued fds when the loop refused the task that
// would have registered them.
func (s *shardCtx) dropHandoffs() {
	s.hmu.Lock()
	batch := s.handoffs
	s.handoffs = nil
	s.handoffPosted = false
	s.hmu.Unlock()
	for _, h := range batch {
		s.live.Add(-1)
		s.e.liveTotal.Add(-1)
		unix.Close(h.fd)
	}
}

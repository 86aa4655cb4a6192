package engine

import "github.com/shardnet/shardnet/shard"

// requeueRead remembers an edge-triggered connection whose read budget ran
// out with bytes still waiting: no new edge will report them. One task per
// batch finishes them after this round's I/O, with a fresh budget, so a
// flooding connection gets one budget per round like the others.
func (s *shardCtx) requeueRead(c *Conn) {
	if len(s.rereads) == 0 {
		_ = s.loop.Submit(s.finishRereads)
	}
	s.rereads = append(s.rereads, c)
}

// finishRereads is requeueRead's task. It ends with flushDirty like every
// other entry point: the handlers it runs write, and those writes must
// leave now, not whenever some other event flushes the shard.
func (s *shardCtx) finishRereads() {
	batch := s.rereads
	s.rereads = nil
	for _, c := range batch {
		if c.state != stateClosed && c.wantRead() {
			c.rereadGuarded()
		}
	}
	s.flushDirty()
}

// rereadGuarded is readReady under the connection's panic guard.
func (c *Conn) rereadGuarded() {
	defer c.recoverPanic()
	// No report to go by: read to EAGAIN, short reads included, so an EOF
	// already waiting is not missed.
	c.readReady(shard.EventRead | shard.EventPeerClosed)
}

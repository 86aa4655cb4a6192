package engine

import (
	"fmt"
	"net/netip"
)

// asyncDatagram is one AsyncWriteTo on its way to the socket's shard.
type asyncDatagram struct {
	p    []byte
	to   netip.AddrPort
	done func(error)
}

// AsyncWriteTo queues p for to from any goroutine, through the socket's
// shard: the engine does not copy p until the shard takes it, so leave p
// untouched until done runs. Calls on one socket keep their order.
//
// When AsyncWriteTo returns nil, done (may be nil) runs exactly once, on
// the socket's shard: with nil once p was copied into the socket's send
// queue (it leaves with the shard's next batch), or with what WriteTo
// returned (ErrOutputFull, ErrDatagramTooLarge, ...), or ErrConnClosed if
// the socket closed first; a write that races the engine's stop may instead
// get done(ErrEngineStopped) on the goroutine that saw the shard end. When
// it returns an error, done never runs: ErrOutputFull when the bytes in
// flight to the shard would pass WithPacketQueue, ErrConnClosed or
// ErrEngineStopped when the socket or the shard is gone. Any goroutine.
func (pc *PacketConn) AsyncWriteTo(p []byte, to netip.AddrPort, done func(error)) error {
	limit := int64(pc.ps.sh.e.cfg.packetQueue)
	cost := int64(len(p))
	if q := pc.asyncQueued.Add(cost); q > limit {
		pc.asyncQueued.Add(-cost)
		return fmt.Errorf("%w: %d bytes in flight + %d", ErrOutputFull, q-cost, cost)
	}
	post, ok := pc.async.add(asyncDatagram{p: p, to: to, done: done})
	if !ok {
		pc.asyncQueued.Add(-cost)
		return ErrConnClosed
	}
	if post {
		if err := pc.ps.sh.loop.Submit(pc.drainFn); err != nil {
			// The shard is gone (see postWrite): fail the whole queue,
			// ours included, each exactly once.
			pc.failAsync(ErrEngineStopped)
		}
	}
	return nil
}

// drainAsync queues every pending AsyncWriteTo, in order, then flushes.
// Loop only.
func (pc *PacketConn) drainAsync() {
	ps := pc.ps
	ps.enter()
	defer ps.leave()
	writes := pc.async.take()
	for i := range writes {
		w := &writes[i]
		pc.asyncQueued.Add(-int64(len(w.p)))
		err := pc.queueDatagram(w.p, w.to, netip.Addr{}, 0)
		if w.done != nil {
			pc.runDone(w.done, err)
		}
	}
	pc.async.recycle(writes)
}

// runDone runs an AsyncWriteTo callback; a panic in it is logged and
// counted, and the other callbacks still run.
func (pc *PacketConn) runDone(done func(error), err error) {
	defer func() {
		if v := recover(); v != nil {
			pc.ps.panics.Add(1)
			pc.ps.sh.e.cfg.logger.Error("panic in an AsyncWriteTo callback", "shard", pc.ps.sh.idx, "panic", v)
		}
	}()
	done(err)
}

// failAsync fails every pending AsyncWriteTo once the shard is gone, and
// refuses later ones.
func (pc *PacketConn) failAsync(err error) {
	for _, w := range pc.async.close() {
		pc.asyncQueued.Add(-int64(len(w.p)))
		if w.done != nil {
			w.done(err)
		}
	}
}

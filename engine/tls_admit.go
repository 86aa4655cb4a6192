package engine

import (
	"time"

	"github.com/shardnet/shardnet/shard"
)

// A shard starts at most startsPerWindow handshake goroutines per
// startWindow; a ClientHello past that waits, buffered and counted in
// WithMaxHandshakes, for a later window. Without it a shard started every
// handshake whose ClientHello was whole as it read it: after a flood's
// refusals ended, the kernel's backlog handed over thousands of them at
// once, the shard started about 4,096 goroutines within 100-300 ms and
// waited for the P behind them for 9-24 ms at a time, its connections'
// messages with it (benchmarks/results/tls-16h). Spread out, the same
// starts cost the shard a few tens of microseconds per window, and the
// handshakes queue for the CPU parked (WithHandshakeCPU) instead of
// runnable. 16 per millisecond per shard is well above the handshakes a
// CPU completes (a few thousand a second), so a server that is not
// flooded never waits for it.
const (
	startsPerWindow = 16
	startWindow     = time.Millisecond
)

// hsStarts is a shard's pacing of handshake starts. Loop only.
type hsStarts struct {
	window    time.Duration // when the current window began (the loop's clock)
	started   int           // goroutines started in it
	queue     []*Conn       // ClientHellos waiting for a window, oldest first
	next      int           // queue[next] is the oldest still waiting
	timer     *shard.Timer  // drains the queue at the next window; made when first needed
	armed     bool
	fn        func() // drain, as the timer's callback; made once
	most      int    // the most goroutines started in one window (for tests)
	queuedAll int    // ClientHellos ever queued (for tests)

	// The accepted connections registered here that the acceptors
	// counted in transit (tls_accept.go) and this shard has not polled
	// since, the round the last of them was registered in, and the
	// timer that takes them off after the next poll.
	unpolled    int64
	regRound    uint64
	settle      *shard.Timer
	settleFn    func()
	settleArmed bool
}

// noteRegistered counts a TLS listener's connection registered here (the
// acceptor counted it in transit) until this shard's next poll. Loop only.
func (s *shardCtx) noteRegistered() {
	st := &s.hsStarts
	st.unpolled++
	st.regRound = s.loop.Stats().Iterations
	if st.settleArmed {
		return
	}
	st.settleArmed = true
	if st.settle == nil {
		st.settleFn = s.settleTransit
		st.settle = s.loop.AfterFunc(0, st.settleFn)
		return
	}
	st.settle.Reset(0)
}

// settleTransit takes the connections registered here off transit once
// the shard has polled since the last of them came: a round's timers run
// after its events, so a ClientHello that was there then has been read
// and counts as waiting now (admitHandshake), and a peer that has not
// spoken yet no longer counts. A timer set in the round that registered
// them runs before that poll, and waits for the next round's. Loop only.
func (s *shardCtx) settleTransit() {
	st := &s.hsStarts
	st.settleArmed = false
	if st.unpolled == 0 {
		return
	}
	if s.loop.Stats().Iterations <= st.regRound {
		st.settleArmed = true
		st.settle.Reset(0)
		return
	}
	s.e.hsCPU.transit.Add(-st.unpolled)
	st.unpolled = 0
}

// admitHandshake starts c's handshake, or queues it for a later window
// when this one has started its share, or refuses c when
// WithMaxHandshakes are in flight (queued ones count). Loop only.
func (c *Conn) admitHandshake() {
	s := c.sh
	e := s.e
	if e.tlsInFlight.Add(1) > int64(e.cfg.maxHandshakes) {
		e.tlsInFlight.Add(-1)
		e.tlsRefused.Add(1)
		// Counted toward the acceptor's next pause too (holdTLS): a
		// flood's connections accepted just under the cap are refused
		// here, at a Conn and a read each, more often than at accept.
		e.hsCPU.unheld.Add(1)
		c.abortWith(ErrTLSBusy)
		return
	}
	st := &s.hsStarts
	if st.next == len(st.queue) && st.take(s.loop.Now()) {
		c.startHandshake()
		return
	}
	c.extra.tls.queued = true
	st.queue = append(st.queue, c)
	st.queuedAll++
	e.hsCPU.waiting.Add(1)
	st.arm(s)
}

// take reports whether the window now falls in may start one more
// handshake, and counts it.
func (st *hsStarts) take(now time.Duration) bool {
	if now-st.window >= startWindow {
		st.window, st.started = now, 0
	}
	if st.started >= startsPerWindow {
		return false
	}
	st.started++
	st.most = max(st.most, st.started)
	return true
}

// arm sets the timer for the next window, once.
func (st *hsStarts) arm(s *shardCtx) {
	if st.armed {
		return
	}
	st.armed = true
	d := max(st.window+startWindow-s.loop.Now(), 0)
	if st.timer == nil {
		st.fn = s.drainStarts
		st.timer = s.loop.AfterFunc(d, st.fn)
		return
	}
	st.timer.Reset(d)
}

// drainStarts starts the queued handshakes the new window allows; those
// whose connection closed meanwhile (the handshake timeout, the peer)
// give their place in WithMaxHandshakes back. Loop only.
func (s *shardCtx) drainStarts() {
	st := &s.hsStarts
	st.armed = false
	now := s.loop.Now()
	for st.next < len(st.queue) {
		c := st.queue[st.next]
		if c.state != stateOpen {
			st.queue[st.next] = nil
			st.next++
			s.e.tlsInFlight.Add(-1)
			s.e.hsCPU.waiting.Add(-1)
			continue
		}
		if !st.take(now) {
			break
		}
		st.queue[st.next] = nil
		st.next++
		c.extra.tls.queued = false
		s.e.hsCPU.waiting.Add(-1)
		c.startHandshake()
	}
	if st.next == len(st.queue) {
		st.queue, st.next = st.queue[:0], 0
		return
	}
	st.arm(s)
}

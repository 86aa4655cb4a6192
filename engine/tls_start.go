package engine

// A new handshake's goroutine starts only once a CPU slot (WithHandshakeCPU)
// is its: until then the connection waits in the slots' line as plain data
// (a Conn pointer and its time), with no goroutine and no stack. Before,
// every admitted handshake got its goroutine at once and parked on the
// slots: under a flood that was thousands of goroutines, each made
// runnable ahead of the shard (startHandshake's yield hands the new one
// the P), their stacks and states allocated in one go, which started a
// GC cycle whose mark assists ran on the shards (benchmarks/results/
// tls-16h). The handshake timeout still bounds a queued connection: it
// closes it as any other, and the line skips it (forgetStart).

// The states of a handshake's start in the slots' line (handshakeState's
// slotq), under cpuSlots.mu.
const (
	slotNone    = iota // not in the line: running, or never queued
	slotQueued         // waits in the line for a slot
	slotGranted        // holds a slot; its start is a task on its shard
	slotGone           // closed while queued or granted: its place and slot given back
)

// tryStart takes a CPU slot for c's new handshake if one is free, within
// the budget, with nobody in line ahead, and reports whether it did; else
// it queues c, and a slot coming free submits c's start to its shard
// (slotGranted). Loop only (c's shard).
func (cs *cpuSlots) tryStart(c *Conn, tc *tlsConn) bool {
	hs := tc.wire.hs
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := cs.now()
	cs.roll(now)
	cs.grant(now)
	if cs.again.len()+cs.fresh.len() == 0 && cs.used < cs.limit && cs.inBudget() {
		cs.used++
		return true
	}
	hs.slotq = slotQueued
	cs.waiting.Add(1)
	cs.fresh.add(slotWaiter{at: now, c: c, tc: tc, hs: hs, start: func() { c.slotGranted(hs) }})
	cs.noteOldest()
	if cs.used < cs.limit && !cs.inBudget() {
		cs.noteHeld()
		cs.arm(now)
	}
	return false
}

// startQueued gives a queued start the slot grant found for it: it counts
// the slot and starts the handshake's goroutine (in handOn, where a
// handshake goroutine passes its slot on) or submits the start to the
// connection's shard; or it skips it if the connection closed meanwhile
// (forgetStart gave its place back). Under mu.
func (cs *cpuSlots) startQueued(w slotWaiter) {
	if w.hs.slotq != slotQueued {
		return
	}
	if cs.direct {
		// Started from here, a handshake costs no shard round and no
		// task: going through the shard cost a one-P server 30-35 % of
		// its new TLS connections per second (tls-16j). The caller is
		// a handshake goroutine, counted in handshakes, so Stop's Wait
		// cannot have begun with the count at zero.
		w.hs.slotq = slotNone
		cs.waiting.Add(-1)
		cs.used++
		s := w.c.sh
		s.e.handshakes.Add(1)
		go w.tc.handshake(s)
		return
	}
	if err := w.c.sh.loop.Submit(w.start); err != nil {
		// The shard is closing (Stop closes the connection, and
		// forgetStart gives its place back) or its task queue is full:
		// the connection stays out of the line, not started, until it
		// closes, at the latest by the handshake timeout.
		return
	}
	w.hs.slotq = slotGranted
	cs.waiting.Add(-1)
	cs.used++
}

// forgetStart takes a closing connection's queued start out of the
// accounting: its place in WithMaxHandshakes, and the slot if one was
// granted it. Loop only (closeNow, by way of tlsClosed).
func (cs *cpuSlots) forgetStart(e *Engine, hs *handshakeState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch hs.slotq {
	case slotQueued:
		hs.slotq = slotGone
		cs.waiting.Add(-1)
		cs.fresh.trim()
		cs.noteOldest()
	case slotGranted:
		hs.slotq = slotGone
		cs.used--
		cs.grant(cs.now())
	default:
		return
	}
	e.tlsInFlight.Add(-1)
}

// slotGranted starts a queued handshake whose slot came free, unless it
// closed meanwhile. Loop only (the task startQueued submits).
func (c *Conn) slotGranted(hs *handshakeState) {
	cs := &c.sh.e.hsCPU
	cs.mu.Lock()
	ok := hs.slotq == slotGranted
	if ok {
		hs.slotq = slotNone
	}
	cs.mu.Unlock()
	if ok {
		c.runHandshake()
	}
}

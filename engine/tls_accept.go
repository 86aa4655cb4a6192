package engine

import (
	"net/netip"
	"runtime"
	"time"
)

// The bounds of holdTLS's pauses: the first is short, so that a backlog
// that clears at once costs new connections little; each pause that
// follows the last closely doubles it, up to the longest, so that a flood
// that goes on is paced by the kernel's backlog and the clients' SYN
// retries instead of by our accepts and resets.
const (
	minTLSHold = time.Millisecond
	maxTLSHold = 128 * time.Millisecond
)

// tlsRefuseBatch is how many new TLS connections the acceptors reset, in
// a row, before holdTLS pauses them.
const tlsRefuseBatch = 64

// holdTLS counts a new connection refuseTLS reset (WithMaxHandshakes
// handshakes in progress, or the handshakes' CPU backlogged), and at
// every tlsRefuseBatch-th refusal (startHandshake's ErrTLSBusy aborts
// count too: they cost the shards a Conn and a read each, and were most
// of a flood's refusals, benchmarks/results/tls-16g) stops the acceptor's
// loop watching its TLS listener for a while, and reports whether it did. Accepting and
// resetting every connection of a flood costs the shards' CPU as much as
// the connections they serve: a flood of 10,000 connections a second kept
// the acceptor and the resets at a sixth of a P
// (benchmarks/results/tls-16e). Paused, new connections wait in the
// kernel's backlog, and past it the kernel drops their SYNs
// (ListenOverflows) and the clients retry later, at no cost to us. When
// the pause ends the acceptor takes what waits, resets up to a batch of
// it while it must still refuse, and pauses again, longer: so every
// connection it accepts while refusing is still reset at once and
// counted, those waiting in the backlog are reset a batch per pause, and
// a flood costs at most a batch of resets per pause. Loop only (the
// acceptor's).
func (a *acceptor) holdTLS() bool {
	e := a.l.e
	if e.hsCPU.unheld.Add(1) < tlsRefuseBatch {
		return false
	}
	e.hsCPU.unheld.Store(0)
	if !a.rest(e.hsCPU.nextHold()) {
		return false
	}
	e.hsCPU.holds.Add(1)
	// A batch of resets held the P about 1.3 ms; on one P the shards
	// waited Runnable behind it and the pause's epoll_wait
	// (benchmarks/results/tls-16l): they get the P first, as in paceRest.
	runtime.Gosched()
	return true
}

// nextHold returns how long holdTLS pauses now: twice the last pause if
// this one comes within that long of its end (the backlog did not clear),
// else minTLSHold. The acceptors of one engine share it, and race on it
// only to double it once too few. Any goroutine.
func (cs *cpuSlots) nextHold() time.Duration {
	now := cs.now()
	d := minTLSHold
	if last := time.Duration(cs.holdLen.Load()); last > 0 && now < time.Duration(cs.holdEnd.Load())+last {
		d = min(2*last, maxTLSHold)
	}
	cs.holdLen.Store(int64(d))
	cs.holdEnd.Store(int64(now + d))
	return d
}

// While the CPU slots are taken, the TLS listeners' acceptors take new
// connections only as handshakes start: in every tlsPaceRest, at most
// tlsPaceLine less the new handshakes already waiting to start (for a
// slot, or for a start window, tls_admit.go). Without it, once refuseTLS
// stopped refusing, the acceptor drained the kernel's whole backlog (up to
// somaxconn, 4,096 here) in a row, the shards read as many ClientHellos
// within 100-300 ms, the handshake states and buffers they allocated
// started a GC cycle, and the open connections' messages waited for the
// shards 10-60 ms (benchmarks/results/tls-16h). Paced, what the slots
// cannot start yet waits in the kernel's backlog at no cost to us, and is
// taken about as fast as handshakes start. With a slot free and nobody
// waiting nothing is paced: a server that keeps up accepts as before.
//
// The connections taken but not yet seen by their shard count as waiting
// too (transit, from the hand-off until the shard's first poll after it
// registered them). Without them, a flood's backlog was still drained
// in one burst on one P: once the last handshakes waiting drained, the
// slot was free and nobody counted as waiting, so the acceptor took
// connection after connection, 3,600 in 50-60 ms, while the shards,
// behind it on the P, had not read one; their goroutines then started at
// the shards' start pace for 200 ms and the open connections' messages
// waited 15-25 ms (benchmarks/results/tls-16m). Counted until the first
// poll, not until a ClientHello comes, a peer that never speaks leaves the
// count at once and cannot hold the acceptors back.
const (
	tlsPaceLine = 32
	tlsPaceRest = time.Millisecond
)

// paceAccept reports whether a TLS listener's acceptor may take one more
// connection now, and counts it if so. The acceptors of one engine share
// the count, and race on it only to take one too many. Any goroutine (the
// acceptors' loops).
func (cs *cpuSlots) paceAccept() bool {
	// transit is read apart from waiting, so the two may be a moment
	// apart: the sum can count a connection twice or miss one, a
	// difference of one in the line of 32.
	waiting := cs.waiting.Load() + cs.transit.Load()
	cs.mu.Lock()
	free := cs.used < cs.limit && cs.inBudget()
	cs.mu.Unlock()
	if waiting == 0 && free {
		return true
	}
	now := cs.now()
	if w := time.Duration(cs.paceWin.Load()); now-w >= tlsPaceRest {
		cs.paceWin.Store(int64(now))
		cs.paceTaken.Store(0)
	}
	if waiting+cs.paceTaken.Load() >= tlsPaceLine {
		return false
	}
	cs.paceTaken.Add(1)
	return true
}

// handoffTLS hands a TLS listener's new connection to a shard, counted in
// transit until that shard has polled it (settleTransit). A listener that
// reads a PROXY header first opens its connections' TLS later, outside
// this count. A connection WithMaxConns refuses in the hand-off never
// reaches a shard, and is taken off again. Loop only (the acceptor's).
func (a *acceptor) handoffTLS(fd int, peer netip.AddrPort) {
	e := a.l.e
	if a.l.lc.proxy != nil {
		e.handoff(fd, peer, a.l.isUnix, a.shard, &a.l.lc)
		return
	}
	e.hsCPU.transit.Add(1)
	if !e.handoff(fd, peer, a.l.isUnix, a.shard, &a.l.lc) {
		e.hsCPU.transit.Add(-1)
	}
}

// paceRest stops the acceptor's loop watching its TLS listener for
// tlsPaceRest, its share of the pace taken, and lets the shards have the
// P first. A paced acceptor spends the flood in epoll_waits of about
// tlsPaceRest, one after the other, and the runtime keeps a P with a
// thread in a syscall; sysmon takes it back only from a syscall it sees
// twice, and once it has slowed to its 10 ms tick it never sees one of
// these twice. On one P, the shards then waited Runnable 15-25 ms at a
// time while the acceptor rested (benchmarks/results/tls-16l): yielding
// here hands them the P before every rest. Loop only (the acceptor's).
func (a *acceptor) paceRest() {
	if a.rest(tlsPaceRest) {
		a.l.e.hsCPU.paceRests.Add(1)
		runtime.Gosched()
	}
}

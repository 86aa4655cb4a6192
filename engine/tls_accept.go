package engine

import (
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

package engine

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// WithHandshakeCPU caps the TLS handshakes that compute at once (key
// exchange, signatures, certificate checks) over the whole engine. A
// handshake holds one of these slots only while it computes, not while it
// waits a round trip for the peer; the others in progress (up to
// WithMaxHandshakes) wait for a slot, parked, the ones coming back from
// the peer before new ones. Go schedules goroutines without priorities: a
// shard woken by epoll_wait that finds every P busy with handshakes waits
// behind all of them, so the cap must leave a P for the shards. Default
// GOMAXPROCS-1, at least 1. A tls.Config callback that blocks
// (GetCertificate fetching from the network, say) holds its slot while it
// blocks. A handshake that stops for the shards inside its computation
// (see WithHandshakeShare) keeps its slot while it stops, for at most a
// few milliseconds, and that time is not counted as its CPU time. While
// every slot is taken (or the share's budget spent), and while
// connections it took wait for their shard's first poll, a TLS listener
// takes new connections only as handshakes start, at most 32 waiting a
// millisecond (to start, or for that poll): the rest wait in the kernel's
// listen backlog (past it the kernel drops their SYNs, ListenOverflows)
// instead of being accepted in one burst when the engine stops refusing,
// or while the shards cannot run to read what it took.
func WithHandshakeCPU(n int) Option { return func(c *config) { c.handshakeCPU = n } }

// WithHandshakeShare caps the CPU time TLS handshakes compute for at share
// of the engine's (GOMAXPROCS CPUs) in every interval of 10 ms, 0 < share
// <= 1: once the handshakes of an interval have held their WithHandshakeCPU
// slots for share × 10 ms × GOMAXPROCS, the next ones wait for the next
// interval, and an interval that overran pays it back from the ones after.
// It is the trade between the two things a handshake flood competes for:
// a lower share keeps more of the CPU, and so the latency and throughput,
// for the connections already open, and completes fewer handshakes per
// second while the flood lasts. The budget does not give way to idle CPU:
// a handshake past it waits for the next interval even when the shards
// have nothing to do, so a server that only does handshakes is capped as
// well. A handshake's time is the wall time it holds its slot, so time it
// is preempted (the garbage collector, the shards) counts against the
// share too, and the CPU handshakes get is less than the share. Handshakes
// waiting for the next interval stay within WithMaxHandshakes; when the
// oldest new one has waited half the handshake timeout
// (WithHandshakeTimeout), new TLS connections are reset at accept as past
// WithMaxHandshakes (which says how the acceptor paces those resets). Both
// show in Stats (TLSHandshakeCPU, TLSHandshakesDeferred, TLSRefused).
// Default 1: no budget, the slots alone, which on two or more CPUs leave
// the shards a P, and on one let a flood take it (benchmarks/results/
// tls-16e and tls-16f: a share of 0.5 halved a one-P server's new TLS
// connections per second, and 0.25 kept its open connections served
// through a flood that starved them without it). Set
// it on a server that must keep its open connections answered through a
// flood more than it must keep up its handshake rate.
//
// With a share below 1, and when the shards hold every P (GOMAXPROCS at
// most the shard count, where Go's scheduler would otherwise let a
// handshake finish its computation before a shard woken meanwhile runs),
// a server handshake also stops at three places inside its computation
// (after the ClientHello, after the key exchange, before the signature)
// whenever a shard has input waiting, until that shard has run a round,
// at most 2 ms a stop: a message for an open connection then waits for
// one part of a handshake (the longest, the key exchange, about 100 µs
// here) instead of its whole first flight. Under a flood, with the
// acceptor's pauses, that took the closed-loop p99 of the open
// connections on two Ps from 5.9× to 1.8× of its unloaded figure and their
// rate from 0.41× to 0.62× (share 0.5), and cut the handshakes completed
// during the flood to a third; without a flood it costs 9 % of new TLS
// connections per second (23 % resumed) against the same share without
// the stops (benchmarks/results/tls-16g).
func WithHandshakeShare(share float64) Option {
	return func(c *config) { c.handshakeShare = share }
}

// defaultHandshakeCPU is WithHandshakeCPU's default for gomaxprocs Ps.
func defaultHandshakeCPU(gomaxprocs int) int { return max(1, gomaxprocs-1) }

// handshakeInterval is WithHandshakeShare's accounting period: short, as a
// handshake past its interval's budget waits up to one of them, and the
// shards get their share back within one.
const handshakeInterval = 10 * time.Millisecond

// cpuSlots is the engine's WithHandshakeCPU semaphore, with the CPU-time
// budget of WithHandshakeShare. Handshakes coming back from a wait for the
// peer are served before new ones, so that a flood of new handshakes
// delays the ones half done by one computation at most, not by the whole
// queue (which the handshake timeout would end). A handshake held back by
// the budget, not by the slots, is woken by a timer at the next interval.
type cpuSlots struct {
	limit int       // WithHandshakeCPU; set by init
	base  time.Time // the zero of now's clock; set by init

	mu      sync.Mutex
	budget  time.Duration // slot time per handshakeInterval (0: no budget); set by init, lifted by stop
	used    int
	fresh   slotQueue     // handshakes that have not computed yet
	again   slotQueue     // handshakes that computed and waited for the peer
	window  time.Duration // when the current interval began (now's clock)
	spent   time.Duration // slot time taken in it, debts of the past included
	timer   *time.Timer   // wakes the handshakes the budget holds back; made when first needed
	armed   bool          // the timer is set
	stopped bool          // Stop has passed: the timer stays off

	// Counters: slot holders write, Stats reads; oldest is read by the
	// acceptor (refuseTLS).
	held     atomic.Int64  // slot time in all, nanoseconds
	deferred atomic.Uint64 // handshakes held back first in line by the budget, a slot free (noteHeld)
	oldest   atomic.Int64  // when the first new handshake in line queued (now's clock + 1); 0 when none waits
	warned   atomic.Int64  // when refuseTLS last logged (now's clock + 1); 0 never; the acceptors write
	holds    atomic.Uint64 // holdTLS's pauses; the acceptors write
	unheld   atomic.Int64  // refusals since holdTLS last paused; the acceptors and startHandshake write
	holdLen  atomic.Int64  // holdTLS's last pause; the acceptors write
	holdEnd  atomic.Int64  // when it ends (now's clock); the acceptors write
	yields   atomic.Uint64 // handshakes parked at a yield point for the shards (tls_yield.go)
	// waiting counts the new handshakes admitted that wait to start
	// computing: parked in fresh (under mu) or queued for a start window
	// (tls_admit.go, their shards). The acceptors read it (paceAccept).
	waiting atomic.Int64
	// transit counts the new TLS connections the acceptors handed to a
	// shard that has not polled them since (tls_accept.go): the acceptors
	// add, the shards take off (settleTransit). The acceptors read it
	// (paceAccept).
	transit   atomic.Int64
	paceRests atomic.Uint64 // the acceptors' paceRest pauses; the acceptors write
	paceWin   atomic.Int64  // when paceAccept's current window began (now's clock); the acceptors write
	paceTaken atomic.Int64  // connections paceAccept let through in it; the acceptors write
}

// init sets the slots' limits from the engine's configuration, the
// budget for the CPUs the process has now. Before the engine starts.
func (cs *cpuSlots) init(cfg *config) {
	cs.limit = cfg.handshakeCPU
	cs.base = time.Now()
	if cfg.handshakeShare < 1 {
		cpus := float64(runtime.GOMAXPROCS(0))
		cs.budget = time.Duration(cfg.handshakeShare * float64(handshakeInterval) * cpus)
	}
}

// now is the slots' clock: monotonic, from init.
func (cs *cpuSlots) now() time.Duration { return time.Since(cs.base) }

// slotQueue is a FIFO of parked handshakes, each woken by a send on its
// channel (buffered, one slot), with when each queued.
type slotQueue struct {
	q    []slotWaiter
	head int
}

type slotWaiter struct {
	wake chan struct{}
	at   time.Duration
	held bool // counted in deferred
}

func (sq *slotQueue) len() int { return len(sq.q) - sq.head }

// first returns the first waiter in line, or nil.
func (sq *slotQueue) first() *slotWaiter {
	if sq.head == len(sq.q) {
		return nil
	}
	return &sq.q[sq.head]
}

func (sq *slotQueue) push(ch chan struct{}, at time.Duration) {
	sq.q = append(sq.q, slotWaiter{wake: ch, at: at})
}

func (sq *slotQueue) pop() (chan struct{}, bool) {
	if sq.head == len(sq.q) {
		return nil, false
	}
	ch := sq.q[sq.head].wake
	sq.q[sq.head] = slotWaiter{}
	sq.head++
	if sq.head == len(sq.q) {
		sq.q, sq.head = sq.q[:0], 0
	}
	return ch, true
}

// acquire takes a slot, waiting for one when limit are taken, when the
// interval's budget is spent, or when others wait ahead; again says the
// caller has computed before and is served first. It returns when it took
// the slot, for release. The channel it waits on is made only then, not
// kept per connection: an idle TLS connection must not carry it.
func (cs *cpuSlots) acquire(again bool) time.Duration {
	cs.mu.Lock()
	now := cs.now()
	cs.roll(now)
	cs.grant(now) // an interval may have begun since the last grant
	ahead := cs.again.len()
	if !again {
		ahead += cs.fresh.len()
	}
	if ahead == 0 && cs.used < cs.limit && cs.inBudget() {
		cs.used++
		cs.mu.Unlock()
		return now
	}
	wake := make(chan struct{}, 1) // one buffered slot: a send never blocks
	if again {
		cs.again.push(wake, now)
	} else {
		cs.fresh.push(wake, now)
		cs.waiting.Add(1)
		if cs.fresh.len() == 1 {
			cs.oldest.Store(int64(now) + 1)
		}
	}
	if cs.used < cs.limit && !cs.inBudget() {
		cs.noteHeld()
		cs.arm(now)
	}
	cs.mu.Unlock()
	<-wake // a slot was passed on or granted: used counts it already
	// The waker's send put us first in its P's queue, ahead of a shard
	// that woke from epoll_wait and waits in the global queue for a P:
	// handing slots on that way, handshakes could keep a P for dozens of
	// computations in a row while the shard waits. Going to the back of
	// the global queue lets the shard in first.
	runtime.Gosched()
	return cs.now()
}

// release gives back a slot taken at took, counting the time it was held,
// and passes it on to the next waiter if the budget allows.
func (cs *cpuSlots) release(took time.Duration) {
	cs.mu.Lock()
	now := cs.count(took)
	cs.used--
	cs.grant(now)
	cs.mu.Unlock()
}

// settle counts the time a slot taken at took has been held, as release
// does, and keeps the slot: its holder parks for the shards at a yield
// point (tls_yield.go) and takes its clock again (now) after, so the time
// it parks is not counted against the share.
func (cs *cpuSlots) settle(took time.Duration) {
	cs.mu.Lock()
	cs.count(took)
	cs.mu.Unlock()
}

// count adds the time since took to the slot time held and to the
// interval's spending, and returns now. Under mu.
func (cs *cpuSlots) count(took time.Duration) time.Duration {
	now := cs.now()
	d := now - took
	cs.held.Add(int64(d))
	cs.roll(now)
	cs.spent += d
	return now
}

// inBudget reports whether the current interval has budget left. Under mu.
func (cs *cpuSlots) inBudget() bool { return cs.budget == 0 || cs.spent < cs.budget }

// roll starts the interval now falls in, taking a budget per interval
// passed off what was spent (an overrun is a debt; unused budget is not
// saved up). Under mu.
func (cs *cpuSlots) roll(now time.Duration) {
	k := (now - cs.window) / handshakeInterval
	if k <= 0 {
		return
	}
	cs.window += k * handshakeInterval
	cs.spent = max(0, cs.spent-k*cs.budget)
}

// grant wakes waiters, again ones first, while slots and budget allow,
// and sets the timer if the budget holds the rest back. Under mu.
func (cs *cpuSlots) grant(now time.Duration) {
	for cs.used < cs.limit && cs.inBudget() {
		ch, ok := cs.again.pop()
		if !ok {
			if ch, ok = cs.fresh.pop(); !ok {
				return
			}
			cs.waiting.Add(-1)
			if cs.fresh.len() > 0 {
				cs.oldest.Store(int64(cs.fresh.q[cs.fresh.head].at) + 1)
			} else {
				cs.oldest.Store(0)
			}
		}
		cs.used++
		ch <- struct{}{}
	}
	if cs.used < cs.limit && cs.again.len()+cs.fresh.len() > 0 {
		cs.noteHeld()
		cs.arm(now)
	}
}

// noteHeld counts, once, the waiter first in line, which the budget holds
// back while a slot is free. Under mu.
func (cs *cpuSlots) noteHeld() {
	w := cs.again.first()
	if w == nil {
		w = cs.fresh.first()
	}
	if w != nil && !w.held {
		w.held = true
		cs.deferred.Add(1)
	}
}

// arm sets the timer for the next interval. Under mu.
func (cs *cpuSlots) arm(now time.Duration) {
	if cs.armed || cs.stopped {
		return
	}
	cs.armed = true
	d := cs.window + handshakeInterval - now
	if cs.timer == nil {
		cs.timer = time.AfterFunc(d, cs.refill)
		return
	}
	cs.timer.Reset(d)
}

// refill is the timer's: a new interval, with budget for the waiters.
func (cs *cpuSlots) refill() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.armed = false
	if cs.stopped {
		return
	}
	now := cs.now()
	cs.roll(now)
	cs.grant(now)
}

// stop lifts the budget and turns the timer off for good: the engine is
// stopping, every connection is closed, and the handshakes still waiting
// for the budget would only find that out (they compute nothing), so they
// need not wait for the intervals an overrun's debt still holds. Stop,
// before it waits for the handshake goroutines.
func (cs *cpuSlots) stop() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.stopped = true
	cs.budget = 0
	if cs.timer != nil {
		cs.timer.Stop()
	}
	cs.grant(cs.now())
}

// backlogged reports whether the first new handshake in line has waited
// longer than d for a slot. Any goroutine.
func (cs *cpuSlots) backlogged(d time.Duration) bool {
	o := cs.oldest.Load()
	return o != 0 && cs.now()-time.Duration(o-1) > d
}

// tlsTransport is the net.Conn crypto/tls runs a connection over: its
// wire, with the handshake's CPU slot let go around every wait for the
// peer. It is the tlsConn itself under another method set, so it costs a
// connection nothing. Its Read and Write are crypto/tls's, on the
// handshake goroutine and then on the shard.
type tlsTransport tlsConn

// Read is the wire's Read; during the handshake, one that must wait for
// the peer gives the CPU slot up while it waits and takes it back after.
func (t *tlsTransport) Read(p []byte) (int, error) {
	w := &t.wire
	if w.onLoop || !w.hs.slot || w.buffered() {
		return w.Read(p)
	}
	hs := w.hs
	cs := &w.c.sh.e.hsCPU
	cs.release(hs.took)
	hs.slot = false
	n, err := w.Read(p)
	hs.took = cs.acquire(true)
	hs.slot = true
	return n, err
}

// buffered reports whether the wire's Read would return at once: there is
// ciphertext, or the connection ended. Handshake goroutine only.
func (w *tlsWire) buffered() bool {
	w.hs.mu.Lock()
	defer w.hs.mu.Unlock()
	return w.unread() || w.hs.end != nil
}

// ended returns why the handshake's reads and writes end, or nil.
func (w *tlsWire) ended() error {
	w.hs.mu.Lock()
	defer w.hs.mu.Unlock()
	return w.hs.end
}

// Write is the wire's Write.
func (t *tlsTransport) Write(b []byte) (int, error) { return t.wire.Write(b) }

// Close is the wire's Close.
func (t *tlsTransport) Close() error { return t.wire.Close() }

// LocalAddr is the wire's LocalAddr.
func (t *tlsTransport) LocalAddr() net.Addr { return t.wire.LocalAddr() }

// RemoteAddr is the wire's RemoteAddr.
func (t *tlsTransport) RemoteAddr() net.Addr { return t.wire.RemoteAddr() }

// SetDeadline is the wire's SetDeadline.
func (t *tlsTransport) SetDeadline(d time.Time) error { return t.wire.SetDeadline(d) }

// SetReadDeadline is the wire's SetReadDeadline.
func (t *tlsTransport) SetReadDeadline(d time.Time) error { return t.wire.SetReadDeadline(d) }

// SetWriteDeadline is the wire's SetWriteDeadline.
func (t *tlsTransport) SetWriteDeadline(d time.Time) error { return t.wire.SetWriteDeadline(d) }

// transport returns the net.Conn to give crypto/tls.
func (tc *tlsConn) transport() net.Conn { return (*tlsTransport)(tc) }

// refuseTLS resets a TLS listener's newly accepted fd when WithMaxHandshakes
// handshakes are in progress, or when the first new handshake waiting for
// a CPU slot has waited half the handshake timeout (a new one would wait
// longer, most likely until it timed out), and reports whether it did:
// the connection would be refused or time out once its ClientHello came
// in, so it is refused before it costs the shard a Conn, a read and a
// timer (a flood's refused connections are most of its connections). It
// is counted in Stats.TLSRefused; no Conn was made, so no OnHandshakeFail
// runs. While it refuses, it logs a warning (WithLogger) at most once per
// refusalLogPeriod. Any goroutine (the acceptor's loop).
func (e *Engine) refuseTLS(fd int) bool {
	inFlight := e.tlsInFlight.Load()
	if inFlight < int64(e.cfg.maxHandshakes) && !e.hsCPU.backlogged(e.cfg.handshakeTime/2) {
		return false
	}
	// Counted before the reset, so that a peer that sees its reset
	// finds it in Stats.
	total := e.tlsRefused.Add(1)
	setLingerZero(fd)
	closeFd(fd)
	if e.hsCPU.shouldWarn() {
		e.cfg.logger.Warn("accept: TLS handshakes at their limit; resetting new TLS connections",
			"in_flight", inFlight, "max_handshakes", e.cfg.maxHandshakes, "refused_total", total)
	}
	return true
}

// refusalLogPeriod is the least time between two of refuseTLS's warnings:
// a flood refuses thousands of connections a second, and the log should
// say that it goes on, not list them.
const refusalLogPeriod = 10 * time.Second

// shouldWarn reports whether refuseTLS logs this refusal: the first one,
// or the first refusalLogPeriod after the last that did. Any goroutine.
func (cs *cpuSlots) shouldWarn() bool {
	now := cs.now()
	last := cs.warned.Load()
	if last != 0 && now-time.Duration(last-1) < refusalLogPeriod {
		return false
	}
	return cs.warned.CompareAndSwap(last, int64(now)+1)
}

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
// blocks.
func WithHandshakeCPU(n int) Option { return func(c *config) { c.handshakeCPU = n } }

// WithHandshakeShare caps the CPU time TLS handshakes compute for at share
// of the engine's (GOMAXPROCS CPUs) in every interval of 10 ms, 0 < share
// <= 1: once the handshakes of an interval have held their WithHandshakeCPU
// slots for share × 10 ms × GOMAXPROCS, the next ones wait for the next
// interval, and an interval that overran pays it back from the ones after.
// It is the trade between the two things a handshake flood competes for:
// a lower share keeps more of the CPU, and so the latency and throughput,
// for the connections already open, and completes fewer handshakes per
// second while the flood lasts (a server that only does handshakes is
// capped as well: its rate falls with the share when handshakes are what
// limits it). A handshake's time is the wall time it holds its slot, so
// time it is preempted counts against the share too. Handshakes waiting
// for the next interval stay within WithMaxHandshakes; when the oldest new
// one has waited half the handshake timeout (WithHandshakeTimeout), new
// TLS connections are reset at accept as past WithMaxHandshakes. Both
// show in Stats (TLSHandshakeCPU, TLSHandshakesDeferred, TLSRefused).
// Default 0.5; with 1 only WithHandshakeCPU's slots bound them (on two
// CPUs the default slots, one, are the default share already).
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
	limit  int           // WithHandshakeCPU; set by init
	budget time.Duration // slot time per handshakeInterval; set by init (0: no budget)
	base   time.Time     // the zero of now's clock; set by init

	mu      sync.Mutex
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
	deferred atomic.Uint64 // handshakes queued while a slot was free: the budget was spent
	oldest   atomic.Int64  // when the first new handshake in line queued (now's clock + 1); 0 when none waits
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
}

func (sq *slotQueue) len() int { return len(sq.q) - sq.head }

func (sq *slotQueue) push(ch chan struct{}, at time.Duration) {
	sq.q = append(sq.q, slotWaiter{ch, at})
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
		if cs.fresh.len() == 1 {
			cs.oldest.Store(int64(now) + 1)
		}
	}
	if cs.used < cs.limit && !cs.inBudget() {
		cs.deferred.Add(1)
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
	now := cs.now()
	d := now - took
	cs.held.Add(int64(d))
	cs.roll(now)
	cs.spent += d
	cs.used--
	cs.grant(now)
	cs.mu.Unlock()
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
		cs.arm(now)
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

// stop turns the timer off for good. Stop, once no handshake is left.
func (cs *cpuSlots) stop() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.stopped = true
	if cs.timer != nil {
		cs.timer.Stop()
	}
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
	return w.off < len(w.in) || w.hs.end != nil
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
// runs. Any goroutine (the acceptor's loop).
func (e *Engine) refuseTLS(fd int) bool {
	if e.tlsInFlight.Load() < int64(e.cfg.maxHandshakes) && !e.hsCPU.backlogged(e.cfg.handshakeTime/2) {
		return false
	}
	setLingerZero(fd)
	closeFd(fd)
	e.tlsRefused.Add(1)
	return true
}

package engine

import (
	"net"
	"runtime"
	"sync"
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

// defaultHandshakeCPU is WithHandshakeCPU's default for gomaxprocs Ps.
func defaultHandshakeCPU(gomaxprocs int) int { return max(1, gomaxprocs-1) }

// cpuSlots is the engine's WithHandshakeCPU semaphore. Handshakes coming
// back from a wait for the peer are served before new ones, so that a
// flood of new handshakes delays the ones half done by one computation at
// most, not by the whole queue (which the handshake timeout would end).
// The zero value is ready: limit is passed in.
type cpuSlots struct {
	mu    sync.Mutex
	used  int
	fresh slotQueue // handshakes that have not computed yet
	again slotQueue // handshakes that computed and waited for the peer
}

// slotQueue is a FIFO of parked handshakes, each woken by a send on its
// channel (buffered, one slot).
type slotQueue struct {
	q    []chan struct{}
	head int
}

func (sq *slotQueue) push(ch chan struct{}) { sq.q = append(sq.q, ch) }

func (sq *slotQueue) pop() (chan struct{}, bool) {
	if sq.head == len(sq.q) {
		return nil, false
	}
	ch := sq.q[sq.head]
	sq.q[sq.head] = nil
	sq.head++
	if sq.head == len(sq.q) {
		sq.q, sq.head = sq.q[:0], 0
	}
	return ch, true
}

// acquire takes a slot, waiting for one when limit are taken; again says
// the caller has computed before and is served first. The channel it waits
// on is made only then, not kept per connection: an idle TLS connection
// must not carry it.
func (cs *cpuSlots) acquire(limit int, again bool) {
	cs.mu.Lock()
	if cs.used < limit {
		cs.used++
		cs.mu.Unlock()
		return
	}
	wake := make(chan struct{}, 1) // one buffered slot: release never blocks
	if again {
		cs.again.push(wake)
	} else {
		cs.fresh.push(wake)
	}
	cs.mu.Unlock()
	<-wake // the releaser passed its slot on: used stays as it is
	// The releaser's wake-up put us first in its P's queue, ahead of a
	// shard that woke from epoll_wait and waits in the global queue for
	// a P: handing slots on that way, handshakes could keep a P for
	// dozens of computations in a row while the shard waits. Going to
	// the back of the global queue lets the shard in first.
	runtime.Gosched()
}

// release gives a slot back, or passes it to the next waiter.
func (cs *cpuSlots) release() {
	cs.mu.Lock()
	ch, ok := cs.again.pop()
	if !ok {
		ch, ok = cs.fresh.pop()
	}
	if !ok {
		cs.used--
	}
	cs.mu.Unlock()
	if ok {
		ch <- struct{}{}
	}
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
	tc := (*tlsConn)(t)
	w := &tc.wire
	if w.onLoop || !tc.hsSlot || w.buffered() {
		return w.Read(p)
	}
	e := w.c.sh.e
	e.hsCPU.release()
	tc.hsSlot = false
	n, err := w.Read(p)
	e.hsCPU.acquire(e.cfg.handshakeCPU, true)
	tc.hsSlot = true
	return n, err
}

// buffered reports whether the wire's Read would return at once: there is
// ciphertext, or the connection ended. Handshake goroutine only.
func (w *tlsWire) buffered() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.off < len(w.in) || w.end != nil
}

// ended returns why the handshake's reads and writes end, or nil.
func (w *tlsWire) ended() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end
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
// handshakes are in progress, and reports whether it did: the connection
// would be refused once its ClientHello came in, so it is refused before
// it costs the shard a Conn, a read and a timer (a flood's refused
// connections are most of its connections). It is counted in
// Stats.TLSRefused; no Conn was made, so no OnHandshakeFail runs. Any
// goroutine (the acceptor's loop).
func (e *Engine) refuseTLS(fd int) bool {
	if e.tlsInFlight.Load() < int64(e.cfg.maxHandshakes) {
		return false
	}
	setLingerZero(fd)
	closeFd(fd)
	e.tlsRefused.Add(1)
	return true
}

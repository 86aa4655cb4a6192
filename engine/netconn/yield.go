package netconn

import (
	"runtime"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// yielder lets the goroutines a shard has woken run at once, when they
// would otherwise wait for the Go runtime to take the P from the shard.
//
// A shard is a goroutine locked to its thread, and it sleeps in
// epoll_wait as an ordinary syscall, keeping its P. When every P is held
// by a shard (GOMAXPROCS at most the shard count: one shard and
// GOMAXPROCS=1, say), a goroutine the shard wakes has no P to run on
// until the runtime's sysmon takes the sleeping shard's P away, 20 µs to
// 10 ms later: a request that the shard handed over at once waits that
// long for its handler, and the runtime keeps sysmon waking every 20 µs
// to do it. So, once per round in which it woke a parked goroutine, the
// shard gives up its P (runtime.Gosched, from a task that runs after the
// round's events): the woken goroutines run, queue their answers, and
// the shard takes those in the same round. That costs two thread switches
// per round, which sysmon's hand-off also costs.
//
// With a P to spare the runtime starts another thread for the woken
// goroutine itself; the yielder then does nothing.
type yielder struct {
	on     bool
	shards []yieldSlot
}

// yieldSlot is one shard's state, touched only on that shard.
type yieldSlot struct {
	// queued is when the shard last queued its yield, or zero once the
	// yield ran. A yield's task does not run if its connection closed
	// first (engine.Handle.Do); one queued over a millisecond ago is
	// taken as lost, so the shard queues another.
	queued time.Time
	yield  func(*engine.Conn)
	_      [32]byte // keep the shards' slots off one another's cache line
}

// yieldLost is how long a queued yield may stay unrun before the shard
// queues another: far longer than a round takes, far shorter than the
// sysmon delay it replaces is allowed to grow to.
const yieldLost = time.Millisecond

// newYielder returns a yielder for e's shards. It is on when the shards
// can hold every P (runtime.GOMAXPROCS(0) <= e.Shards()).
func newYielder(e *engine.Engine) *yielder {
	n := e.Shards()
	y := &yielder{on: runtime.GOMAXPROCS(0) <= n, shards: make([]yieldSlot, n)}
	for i := range y.shards {
		s := &y.shards[i]
		s.yield = func(*engine.Conn) {
			s.queued = time.Time{}
			runtime.Gosched()
		}
	}
	return y
}

// Woke runs on ec's shard right after it woke a goroutine parked on ec
// (h is ec's handle); the first call of a round queues the shard's
// yield. A nil yielder does nothing.
func (y *yielder) Woke(ec *engine.Conn, h engine.Handle) {
	if y == nil || !y.on {
		return
	}
	sh := ec.Shard()
	if sh < 0 || sh >= len(y.shards) {
		return
	}
	s := &y.shards[sh]
	now := time.Now()
	if !s.queued.IsZero() && now.Sub(s.queued) < yieldLost {
		return // this round's yield is queued
	}
	if h.Do(s.yield) == nil {
		s.queued = now
	}
}

package blocking

import (
	"sync"
	"sync/atomic"
	"time"
)

// Gate is where one waiting goroutine parks. The zero Gate is ready, with
// no deadline: embed it in the adapter's per-connection state, or make one
// on its own with NewGate.
//
// An adapter's idle connection has its reader parked here, so the Gate's
// size is paid per idle connection. A parked goroutine costs the runtime's
// waiter record whatever it parks on; beyond that the Gate costs 32 bytes
// in its owner, where a buffered channel cost a pointer and a ~100-byte
// allocation. It parks on a WaitGroup of one (rather than a Mutex used as
// a semaphore, as small, whose Lock spins before it sleeps): Wait adds
// one and waits, and the Wake that finds it parked is the one Done.
type Gate struct {
	wg    sync.WaitGroup
	state atomic.Uint32 // gateIdle, gateParked or gateWoken: one Done per Wait

	// Guarded by the adapter's mutex.
	expired bool
	t       *time.Timer // the deadline's timer; nil without a future deadline
}

// A Gate's state. Wait moves it idle → parked under the adapter's mutex;
// Wake moves it parked → woken with a CAS, so that of all the Wakes that
// find a goroutine parked exactly one calls Done; Wait moves it back to
// idle once it has the mutex again.
const (
	gateIdle uint32 = iota
	gateParked
	gateWoken
)

// NewGate returns a Gate with no deadline, for an adapter that does not
// embed one.
func NewGate() *Gate { return &Gate{} }

// Wake wakes the goroutine parked in Wait; with none parked it does
// nothing. Any goroutine, with or without the adapter's mutex; it never
// blocks. The waker changes what the waiter looks at under the mutex
// first, then wakes: a waiter looks under the mutex and holds it until it
// is parked, so it either sees the change or is parked when Wake comes.
func (g *Gate) Wake() {
	if g.state.CompareAndSwap(gateParked, gateWoken) {
		g.wg.Done()
	}
}

// Wait unlocks mu, parks until a Wake, and locks mu again. The caller
// holds mu and has just seen that it must wait; it looks again when Wait
// returns (a wake-up may be stale). One goroutine at a time: the adapter
// has its callers of one kind take turns.
func (g *Gate) Wait(mu *sync.Mutex) {
	g.wg.Add(1)
	g.state.Store(gateParked)
	mu.Unlock()
	g.wg.Wait()
	mu.Lock()
	g.state.Store(gateIdle)
}

// Parked reports whether a goroutine is parked in Wait (or about to be:
// it has decided to and is letting go of mu; or woken and not yet holding
// mu again). The caller holds mu.
func (g *Gate) Parked() bool { return g.state.Load() != gateIdle }

// SetDeadline replaces the deadline with t (the zero time: none) and
// wakes the parked goroutine to look again. A t already past expires the
// gate at once; a future one arms a timer that expires it (under mu) and
// wakes it. The caller holds mu.
func (g *Gate) SetDeadline(mu *sync.Mutex, t time.Time) {
	g.Stop()
	g.expired = false
	defer g.Wake()
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		g.expired = true
		return
	}
	// The timer knows itself by its pointer: one that a later
	// SetDeadline or Stop replaced finds another (or none) in g.t and
	// leaves the gate alone. tm is set under mu and read under mu.
	var tm *time.Timer
	tm = time.AfterFunc(wait, func() {
		mu.Lock()
		mine := g.t == tm
		if mine {
			g.expired = true
			g.t = nil
		}
		mu.Unlock()
		if mine {
			g.Wake()
		}
	})
	g.t = tm
}

// Expired reports whether the deadline has passed. The caller holds mu.
func (g *Gate) Expired() bool { return g.expired }

// Stop drops the deadline's timer, if any, for a connection that ends.
// The caller holds mu.
func (g *Gate) Stop() {
	if g.t != nil {
		g.t.Stop()
		g.t = nil
	}
}

package blocking

import (
	"sync"
	"time"
)

// Gate is where one waiting goroutine parks. Make it with NewGate.
type Gate struct {
	wake chan struct{} // room for one wake-up

	// Guarded by the adapter's mutex.
	t       *time.Timer
	gen     uint64 // counts SetDeadline calls: a timer of an older one is ignored
	expired bool
	parked  bool // a goroutine is in Wait or WaitFor
}

// NewGate returns a Gate with no deadline.
func NewGate() *Gate { return &Gate{wake: make(chan struct{}, 1)} }

// Wake wakes the goroutine parked in Wait, or the next one to park if
// none is. Any goroutine, with or without the adapter's mutex; it never
// blocks.
func (g *Gate) Wake() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Wait unlocks mu, parks until a Wake, and locks mu again. The caller
// holds mu and has just seen that it must wait; it looks again when Wait
// returns (a wake-up may be stale). A Wake between the caller's look and
// Wait is kept, so none is missed.
func (g *Gate) Wait(mu *sync.Mutex) {
	g.parked = true
	mu.Unlock()
	<-g.wake
	mu.Lock()
	g.parked = false
}

// Parked reports whether a goroutine is parked in Wait or WaitFor (or
// about to be: it has decided to and is letting go of mu). The caller
// holds mu.
func (g *Gate) Parked() bool { return g.parked }

// WaitFor is Wait bounded by d (d <= 0: no bound). It reports false when d
// passed first.
func (g *Gate) WaitFor(mu *sync.Mutex, d time.Duration) bool {
	if d <= 0 {
		g.Wait(mu)
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	g.parked = true
	mu.Unlock()
	defer func() {
		mu.Lock()
		g.parked = false
	}()
	select {
	case <-g.wake:
		return true
	case <-t.C:
		return false
	}
}

// SetDeadline replaces the deadline with t (the zero time: none) and
// wakes the parked goroutine to look again. A t already past expires the
// gate at once; a future one arms a timer that expires it (under mu) and
// wakes it. The caller holds mu.
func (g *Gate) SetDeadline(mu *sync.Mutex, t time.Time) {
	g.Stop()
	g.gen++
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
	gen := g.gen
	g.t = time.AfterFunc(wait, func() {
		mu.Lock()
		if g.gen == gen {
			g.expired = true
		}
		mu.Unlock()
		g.Wake()
	})
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

package engine

import "sync"

// A handshake goroutine that has finished a handshake does not end at
// once: it parks in the engine's idle set (hsIdle), and the next
// handshake a shard starts goes to it instead of to a new goroutine. Each
// handshake still has a goroutine of its own for as long as it is in
// progress (WithMaxHandshakes and the handshake timeout count and bound
// it as before); only the goroutine outlives it. A new goroutine for every
// handshake grew its stack through crypto/tls's handshake every time:
// newstack and copystack took 3.3 % of a server's samples under new
// resumed connections against net/http's 2.0 % (benchmarks/results/tls-16n).
// A parked one keeps the stack it grew, until a GC shrinks it.
//
// maxIdleHandshakers bounds the set: a handshake that ends when it is full
// ends its goroutine as before. The goroutines the set has to cover are
// the handshakes in progress at once in steady traffic; a CPU completes a
// few thousand handshakes a second, each in progress for its computation
// and one round trip, so on loopback a few, and a few dozen over real
// round trips; past the bound a burst's goroutines end as they did before.
// Each keeps a stack of about 8-32 KiB, so the set holds at most about
// 1 MiB. It is never more than WithMaxHandshakes, so that a small cap
// keeps its goroutines few. Stop ends every parked goroutine (stop, before
// it waits for Engine.handshakes).
const maxIdleHandshakers = 32

// hsIdle is the engine's set of parked handshake goroutines. Any
// goroutine: shards take from it, handshake goroutines put themselves in.
type hsIdle struct {
	mu     sync.Mutex
	parked []chan *tlsConn // each idle goroutine's hand-off, most recently parked last
	max    int
	closed bool   // Stop ended the set: goroutines no longer park
	reused uint64 // handshakes handed to a parked goroutine (for tests); guarded by mu
}

// init sets the bound for an engine whose WithMaxHandshakes is maxHS.
func (hi *hsIdle) init(maxHS int) { hi.max = max(min(maxIdleHandshakers, maxHS), 0) }

// handOff gives tc's handshake to a parked goroutine and reports whether
// there was one. The most recently parked goes first: its stack is the
// likeliest to be still grown. Any goroutine (the shards).
func (hi *hsIdle) handOff(tc *tlsConn) bool {
	hi.mu.Lock()
	n := len(hi.parked)
	if n == 0 {
		hi.mu.Unlock()
		return false
	}
	next := hi.parked[n-1]
	hi.parked[n-1] = nil
	hi.parked = hi.parked[:n-1]
	hi.reused++
	hi.mu.Unlock()
	next <- tc // buffered for one, and only the taker sends: never blocks
	return true
}

// park puts the calling handshake goroutine in the set, with its hand-off
// next, and reports false, without parking it, when the set is full or
// stopped: the goroutine then ends. A goroutine that parks waits on next
// for its next handshake, or for next to close (Stop). Handshake goroutine
// only, between handshakes.
func (hi *hsIdle) park(next chan *tlsConn) bool {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	if hi.closed || len(hi.parked) >= hi.max {
		return false
	}
	hi.parked = append(hi.parked, next)
	return true
}

// stop ends every parked goroutine and parks no more. Stop calls it once
// the shards have stopped, so no handshake starts after it.
func (hi *hsIdle) stop() {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	hi.closed = true
	for i, next := range hi.parked {
		close(next)
		hi.parked[i] = nil
	}
	hi.parked = nil
}

// idle returns how many goroutines are parked, and how many handshakes
// went to a parked goroutine so far (for tests).
func (hi *hsIdle) idle() (parked int, reused uint64) {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	return len(hi.parked), hi.reused
}

// runHandshakes is a handshake goroutine: it runs tc's handshake, then
// parks in the idle set and runs the handshakes handed to it, until the
// set is full or stopped. Each handshake leaves nothing of its own on this
// goroutine: what it uses is its connection's (tlsConn, handshakeState),
// and its end is reported by its own doneFn task before the goroutine
// parks. A handshake that panics is not recovered here, as it was not
// before (crypto/tls and the application's callbacks run in it): the
// panic ends the goroutine before it could park.
func (e *Engine) runHandshakes(tc *tlsConn) {
	defer e.handshakes.Done()
	var next chan *tlsConn
	for {
		tc.handshake()
		tc = nil // the connection is the shard's again
		if next == nil {
			next = make(chan *tlsConn, 1)
		}
		if !e.hsIdle.park(next) {
			return
		}
		var ok bool
		if tc, ok = <-next; !ok {
			return // Stop
		}
	}
}

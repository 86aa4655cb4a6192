package rpc

import (
	"time"

	"github.com/shardnet/shardnet/engine"
)

// Per-call timeouts live in a deadline heap per client shard, loop only
// like the shard's own timer heap: no lock, O(log n) to add or remove a
// call, and nothing allocated per call (the call knows its index). One
// engine.Timer per shard (Engine.AfterFunc) drives the heap, armed for the
// earliest deadline: a call times out at its deadline, not at the next
// tick of a sweep.
//
// The timer is armed lazily. Adding a call resets it only when the call
// becomes the earliest deadline and the timer is set for later (or not
// set); removing a call, the common case, leaves it alone, so it may fire
// for a call that was answered meanwhile and then only re-arms for the
// heap's new head. With one timeout for every call (the default), a shard
// busy with calls touches the engine's heap about once per timeout, not
// once per call.

// clientShard is one client shard's state. Loop only.
type clientShard struct {
	cl    *Client
	idx   int
	heap  []*call       // min-heap on deadline; call.hidx is each one's index
	conns []*clientConn // the pool's connections on this shard

	timer    *engine.Timer // made by the shard's first drain; fires expireFn
	armed    bool          // timer is scheduled, for at
	at       time.Duration // the deadline the timer is set for, on the client's clock
	expireFn func()        // sh.expire, bound once
	_        [64]byte      // keep shards' state off one cache line
}

// clientHandler is the client engine's handler. It does nothing: each
// connection has its own handler (clientConn), and the shards' clocks are
// their timers.
type clientHandler struct{ engine.BaseHandler }

// ensureTimer makes the shard's timer, stopped, the first time the shard
// needs it. Loop only: the engine refuses a timer made off its shard.
func (sh *clientShard) ensureTimer() error {
	if sh.timer != nil {
		return nil
	}
	t, err := sh.cl.eng.AfterFunc(sh.idx, time.Hour, sh.expireFn)
	if err != nil {
		return err
	}
	t.Stop()
	sh.timer = t
	return nil
}

// arm makes sure the timer fires no later than the earliest deadline.
func (sh *clientShard) arm() {
	if len(sh.heap) == 0 {
		return
	}
	next := sh.heap[0].deadline
	if sh.armed && sh.at <= next {
		return // it fires first, and expire re-arms for the rest
	}
	sh.at, sh.armed = next, true
	sh.timer.Reset(next - sh.cl.now())
}

// expire is the timer's callback: it fails the calls past their deadline
// and re-arms for the next one. The engine's clock and the client's may
// disagree by a little; a call is failed only once the client's clock says
// its deadline passed, so an early fire just re-arms for the rest.
func (sh *clientShard) expire() {
	cl := sh.cl
	sh.armed = false
	now := cl.now()
	for len(sh.heap) > 0 && sh.heap[0].deadline <= now {
		k := sh.heap[0]
		sh.remove(k)
		k.cc.take(k.id)
		cl.stats.timeouts.Add(1)
		cl.finish(k, nil, timeoutError{after: k.timeout.String()})
	}
	if cl.cfg.coalesce {
		// Calls that ended by timing out may let held ones go.
		for _, cc := range sh.conns {
			cc.flushHeld(cc.c)
		}
	}
	sh.arm()
}

func (sh *clientShard) less(i, j int) bool { return sh.heap[i].deadline < sh.heap[j].deadline }

func (sh *clientShard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

// push adds k to the heap and, if k is now due first, brings the timer
// forward.
func (sh *clientShard) push(k *call) {
	k.hidx = len(sh.heap)
	sh.heap = append(sh.heap, k)
	sh.up(k.hidx)
	if k.hidx == 0 {
		sh.arm()
	}
}

// remove takes k out of the heap, if it is in it. The timer is left as it
// is (see above).
func (sh *clientShard) remove(k *call) {
	i := k.hidx
	if i < 0 {
		return
	}
	last := len(sh.heap) - 1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last] = nil
	sh.heap = sh.heap[:last]
	k.hidx = -1
	if i != last {
		if !sh.down(i) {
			sh.up(i)
		}
	}
}

func (sh *clientShard) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !sh.less(j, i) {
			break
		}
		sh.swap(i, j)
		j = i
	}
}

// down moves the element at i down; it reports whether it moved.
func (sh *clientShard) down(i int) bool {
	start := i
	n := len(sh.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && sh.less(r, l) {
			j = r
		}
		if !sh.less(j, i) {
			break
		}
		sh.swap(i, j)
		i = j
	}
	return i > start
}

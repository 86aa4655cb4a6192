package balancer

import (
	"net/netip"
	"sync/atomic"
)

// RoundRobin returns a Balancer that hands out shards 0, 1, …, n-1, 0, … in
// turn, ignoring loads and the peer. Over any k·n consecutive picks with a
// fixed n, each shard gets exactly k, whichever goroutines make them.
func RoundRobin() Balancer { return &roundRobin{} }

// roundRobin counts picks; the counter is its only state.
type roundRobin struct {
	// next is the number of picks so far. Every Pick adds one; wrapping at
	// 2^64 only shifts the rotation once.
	next atomic.Uint64
}

// Pick returns the next shard in turn. It is safe for concurrent use.
func (r *roundRobin) Pick(loads Loads, _ netip.AddrPort) int {
	return r.pick(shardCount(loads))
}

// pick returns the next index in [0, n).
func (r *roundRobin) pick(n int) int {
	if n == 1 {
		return 0
	}
	return int((r.next.Add(1) - 1) % uint64(n))
}

// String returns "round-robin".
func (r *roundRobin) String() string { return "round-robin" }

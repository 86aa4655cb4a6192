package balancer

import (
	"math/rand/v2"
	"net/netip"
)

// PowerOfTwo returns a Balancer using the power of two choices: it draws two
// different shards at random and picks the one with fewer live connections
// (on a tie, the first drawn, itself a uniform choice). It reads two counts
// per pick whatever the number of shards, never gives a connection to a shard
// more loaded than every other, and, unlike [LeastConnections], does not send
// a burst of accepts all to one shard while the counts have not caught up.
//
// The draws use math/rand/v2's top-level functions, which are safe for
// concurrent use without a global lock and allocate nothing.
func PowerOfTwo() Balancer { return powerOfTwo{} }

// powerOfTwo is stateless: its randomness comes from math/rand/v2.
type powerOfTwo struct{}

// Pick returns the less loaded of two randomly drawn shards. It is safe for
// concurrent use.
func (powerOfTwo) Pick(loads Loads, _ netip.AddrPort) int {
	n := shardCount(loads)
	if n == 1 {
		return 0
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++ // j is uniform over the shards other than i
	}
	if loads.Load(j) < loads.Load(i) {
		return j
	}
	return i
}

// String returns "power-of-two".
func (powerOfTwo) String() string { return "power-of-two" }

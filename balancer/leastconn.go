package balancer

import (
	"net/netip"
	"sync/atomic"
)

// LeastConnections returns a Balancer that picks a shard with the fewest live
// connections, reading every shard's count (O(n) per pick). Ties are broken by
// a rotating starting point: the scan starts one shard further on each pick
// and keeps the first minimum it meets, so a burst of connections to equally
// loaded shards is spread over them instead of all landing on shard 0.
func LeastConnections() Balancer { return &leastConnections{} }

// leastConnections holds the rotating start of its scan.
type leastConnections struct {
	// start counts picks; start mod n is where the next scan begins.
	start atomic.Uint64
}

// Pick returns a least-loaded shard. It is safe for concurrent use.
func (l *leastConnections) Pick(loads Loads, _ netip.AddrPort) int {
	n := shardCount(loads)
	if n == 1 {
		return 0
	}
	s := int((l.start.Add(1) - 1) % uint64(n))
	best, least := s, loads.Load(s)
	for k := 1; k < n; k++ {
		i := s + k
		if i >= n {
			i -= n
		}
		if v := loads.Load(i); v < least {
			best, least = i, v
		}
	}
	return best
}

// String returns "least-connections".
func (l *leastConnections) String() string { return "least-connections" }

// Package balancer picks the shard that a new connection will live on.
//
// The engine's acceptor calls [Balancer.Pick] once for every accepted
// connection (and the engine's Dial when no shard is named). Pick sees two
// things: the shards' live connection counts, through the small [Loads]
// interface that the engine implements with atomics, and the peer address.
// It returns a shard index in [0, loads.Len()).
//
// Pick may be called from several acceptor goroutines at once (one per
// listener), so every balancer here is safe for concurrent use: shared state
// is a single atomic counter, and randomness comes from the per-call functions
// of math/rand/v2, which take no global lock. Pick allocates nothing.
//
// Four strategies are provided:
//
//   - [RoundRobin]: shard 0, 1, …, n-1, 0, … in turn; exactly even over time.
//   - [LeastConnections]: a shard with the fewest live connections; ties are
//     broken by a rotating starting point, so equal shards share a burst.
//   - [SourceHash]: the same source IP always gets the same shard (ports are
//     ignored); peers without an IP address (unix sockets) go round-robin.
//   - [PowerOfTwo]: the less loaded of two shards chosen at random, which
//     follows load almost as well as least-connections at a fraction of the
//     cost for many shards, and without sending a burst to a single shard.
//
// The counts should go up when the acceptor hands a connection to a shard,
// not later when the shard gets round to registering it: with stale counts,
// least-connections sends a whole burst of accepts to the shard that looked
// emptiest. Power-of-two is the least sensitive to such lag.
//
// [Parse] turns the names used by flags and configuration ("rr", "lc",
// "hash", "p2c" and their long forms) into a Balancer. Each Balancer value
// holds its own state: two engines never share a counter.
//
// A small example, with [Static] standing in for the engine's counts:
//
//	b, err := balancer.Parse("lc")
//	if err != nil {
//		return err
//	}
//	loads := balancer.Static{4, 1, 3} // live connections per shard
//	shard := b.Pick(loads, netip.MustParseAddrPort("192.0.2.7:51000"))
//	// shard == 1
package balancer

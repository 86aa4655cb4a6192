package balancer

import (
	"fmt"
	"net/netip"
	"strings"
)

// Loads reports the shards' live connection counts. The engine implements it
// with atomics; a balancer reads it during Pick and never keeps it.
//
// Pick allocates nothing, but converting a non-pointer value such as a slice
// to Loads does (Go boxes it): on a hot path, pass a pointer or a Loads
// variable converted once.
type Loads interface {
	// Len returns the number of shards; it is at least 1.
	Len() int
	// Load returns the number of live connections on shard i, for i in
	// [0, Len()).
	Load(i int) int
}

// Balancer picks the shard for a new connection. Implementations are safe for
// concurrent use: the engine may call Pick from several acceptor goroutines at
// once.
type Balancer interface {
	// Pick returns a shard index in [0, loads.Len()) for a connection from
	// peer. The peer may be the zero AddrPort when it has no IP address (a
	// unix socket). Pick panics if loads.Len() is less than 1.
	Pick(loads Loads, peer netip.AddrPort) int
}

// Static is a fixed set of live connection counts, one per shard, that
// implements [Loads]. It is meant for tests, examples and simulations; the
// engine supplies its own live counts. Passing a Static to Pick converts it
// to Loads, which allocates unless it is already held in a Loads variable.
type Static []int

// Len returns the number of shards, len(s).
func (s Static) Len() int { return len(s) }

// Load returns s[i], the live connections on shard i.
func (s Static) Load(i int) int { return s[i] }

// names lists the names Parse accepts, for its error message.
const names = `"rr", "round-robin", "lc", "least-connections", "hash", "source-hash", "p2c" or "power-of-two"`

// Parse returns a new Balancer for a name, ignoring case: "rr" or
// "round-robin" for [RoundRobin], "lc" or "least-connections" for
// [LeastConnections], "hash" or "source-hash" for [SourceHash], "p2c" or
// "power-of-two" for [PowerOfTwo]. Any other name, the empty one included,
// returns an error that wraps [ErrUnknown] and lists the allowed names.
func Parse(name string) (Balancer, error) {
	switch strings.ToLower(name) {
	case "rr", "round-robin":
		return RoundRobin(), nil
	case "lc", "least-connections":
		return LeastConnections(), nil
	case "hash", "source-hash":
		return SourceHash(), nil
	case "p2c", "power-of-two":
		return PowerOfTwo(), nil
	}
	return nil, fmt.Errorf("%w %q (want %s)", ErrUnknown, name, names)
}

// shardCount returns loads.Len(), panicking with the broken invariant's name
// when there is no shard to pick.
func shardCount(loads Loads) int {
	n := loads.Len()
	if n < 1 {
		panic("balancer: Pick needs loads.Len() >= 1")
	}
	return n
}

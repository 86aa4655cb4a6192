package balancer_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/shardnet/shardnet/balancer"
)

func Example() {
	b, err := balancer.Parse("lc")
	if err != nil {
		fmt.Println(err)
		return
	}
	var loads balancer.Loads = balancer.Static{4, 1, 3} // live connections per shard
	fmt.Println(b.Pick(loads, netip.MustParseAddrPort("192.0.2.7:51000")))
	// Output: 1
}

func ExampleRoundRobin() {
	b := balancer.RoundRobin()
	var loads balancer.Loads = balancer.Static{0, 0, 0}
	for range 5 {
		fmt.Print(b.Pick(loads, netip.AddrPort{}), " ")
	}
	fmt.Println()
	// Output: 0 1 2 0 1
}

func ExampleSourceHash() {
	b := balancer.SourceHash()
	var loads balancer.Loads = make(balancer.Static, 8)
	first := b.Pick(loads, netip.MustParseAddrPort("198.51.100.23:40001"))
	again := b.Pick(loads, netip.MustParseAddrPort("198.51.100.23:40002"))
	mapped := b.Pick(loads, netip.MustParseAddrPort("[::ffff:198.51.100.23]:443"))
	fmt.Println(first == again, first == mapped)
	// Output: true true
}

func ExampleParse() {
	_, err := balancer.Parse("random")
	fmt.Println(errors.Is(err, balancer.ErrUnknown))
	fmt.Println(err)
	// Output:
	// true
	// balancer: unknown balancer "random" (want "rr", "round-robin", "lc", "least-connections", "hash", "source-hash", "p2c" or "power-of-two")
}

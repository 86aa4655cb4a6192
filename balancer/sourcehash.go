package balancer

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// SourceHash returns a Balancer that sends every connection from one source IP
// address to the same shard, as long as the number of shards stays the same.
// The port is ignored, and so is an IPv6 zone; an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) goes where its IPv4 form a.b.c.d goes. The hash is fixed
// (no per-process seed), so every engine with the same shard count maps an
// address to the same index.
//
// A peer with no IP address — the zero AddrPort, as for a unix socket — has no
// source to keep together, so such peers are spread round-robin instead.
//
// Many clients behind one NAT share an address and therefore a shard; use
// another balancer when that skews the load.
func SourceHash() Balancer { return &sourceHash{} }

// sourceHash is stateless for IP peers; fallback serves peers without one.
type sourceHash struct {
	// fallback picks for peers without a valid IP address.
	fallback roundRobin
}

// Pick returns the shard for peer's IP address. It is safe for concurrent use.
func (h *sourceHash) Pick(loads Loads, peer netip.AddrPort) int {
	n := shardCount(loads)
	if n == 1 {
		return 0
	}
	addr := peer.Addr()
	if !addr.IsValid() {
		return h.fallback.pick(n)
	}
	// As16 gives an IPv4 address in its IPv4-mapped form, so a.b.c.d and
	// ::ffff:a.b.c.d hash alike; it drops the zone.
	b := addr.As16()
	x := mix64(binary.BigEndian.Uint64(b[:8]))
	x = mix64(x ^ binary.BigEndian.Uint64(b[8:]))
	// The high word of x·n is a uniform index in [0, n) without a division.
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

// String returns "source-hash".
func (h *sourceHash) String() string { return "source-hash" }

// mix64 scrambles the bits of x so that every input bit affects every output
// bit (the finalizer of the SplitMix64 generator). Addresses that differ only
// in their last bits, as in one subnet, then land on unrelated shards.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

package balancer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// picks is the number of picks in the distribution tests.
const picks = 10_000

// all lists every balancer by its canonical name.
var all = []struct {
	name string
	make func() Balancer
}{
	{"round-robin", RoundRobin},
	{"least-connections", LeastConnections},
	{"source-hash", SourceHash},
	{"power-of-two", PowerOfTwo},
}

// peerN returns a distinct IPv4 peer for each n, with a varying port.
func peerN(n int) netip.AddrPort {
	a := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	return netip.AddrPortFrom(a, uint16(1024+n%60000))
}

// spread returns max(s) - min(s).
func spread(s []int) int {
	lo, hi := s[0], s[0]
	for _, v := range s[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // String() of the result; "" when an error is expected
		wantErr bool
	}{
		{name: "rr", in: "rr", want: "round-robin"},
		{name: "round-robin", in: "round-robin", want: "round-robin"},
		{name: "lc", in: "lc", want: "least-connections"},
		{name: "least-connections", in: "least-connections", want: "least-connections"},
		{name: "hash", in: "hash", want: "source-hash"},
		{name: "source-hash", in: "source-hash", want: "source-hash"},
		{name: "p2c", in: "p2c", want: "power-of-two"},
		{name: "power-of-two", in: "power-of-two", want: "power-of-two"},
		{name: "upper case", in: "P2C", want: "power-of-two"},
		{name: "unknown", in: "random", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "space", in: " rr", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrUnknown) {
					t.Fatalf("Parse(%q) error = %v, want ErrUnknown", tc.in, err)
				}
				for _, n := range []string{`"rr"`, `"round-robin"`, `"lc"`, `"least-connections"`, `"hash"`, `"source-hash"`, `"p2c"`, `"power-of-two"`, fmt.Sprintf("%q", tc.in)} {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("error %q does not name %s", err, n)
					}
				}
				if b != nil {
					t.Errorf("Parse(%q) = %v with an error, want nil", tc.in, b)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := b.(fmt.Stringer).String(); got != tc.want {
				t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseReturnsFreshState(t *testing.T) {
	a, _ := Parse("rr")
	b, _ := Parse("rr")
	loads := Static{0, 0, 0}
	a.Pick(loads, netip.AddrPort{})
	if got := b.Pick(loads, netip.AddrPort{}); got != 0 {
		t.Errorf("second round-robin started at %d, want 0: state is shared", got)
	}
}

func TestSingleShard(t *testing.T) {
	peers := []netip.AddrPort{
		{},
		netip.MustParseAddrPort("192.0.2.1:80"),
		netip.MustParseAddrPort("[2001:db8::1]:443"),
	}
	for _, bc := range all {
		t.Run(bc.name, func(t *testing.T) {
			b := bc.make()
			for k := range 100 {
				if got := b.Pick(Static{7}, peers[k%len(peers)]); got != 0 {
					t.Fatalf("pick %d = %d with one shard, want 0", k, got)
				}
			}
		})
	}
}

func TestNoShardsPanics(t *testing.T) {
	for _, bc := range all {
		t.Run(bc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "loads.Len() >= 1") {
					t.Errorf("recover() = %v, want the invariant's panic", r)
				}
			}()
			bc.make().Pick(Static{}, netip.AddrPort{})
		})
	}
}

func TestInRange(t *testing.T) {
	for _, bc := range all {
		for _, n := range []int{2, 3, 7, 64} {
			t.Run(fmt.Sprintf("%s/shards=%d", bc.name, n), func(t *testing.T) {
				b := bc.make()
				loads := make(Static, n)
				for k := range 1000 {
					loads[rand.IntN(n)] = rand.IntN(5)
					if got := b.Pick(loads, peerN(k)); got < 0 || got >= n {
						t.Fatalf("pick %d = %d, want [0, %d)", k, got, n)
					}
				}
			})
		}
	}
}

func TestRoundRobinExactlyEven(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8} {
		t.Run(fmt.Sprintf("shards=%d", n), func(t *testing.T) {
			b := RoundRobin()
			counts := make([]int, n)
			loads := make(Static, n)
			loads[0] = 1000 // loads are ignored
			total := picks - picks%n
			for k := range total {
				got := b.Pick(loads, peerN(k))
				if got != k%n {
					t.Fatalf("pick %d = %d, want %d", k, got, k%n)
				}
				counts[got]++
			}
			for i, c := range counts {
				if c != total/n {
					t.Errorf("shard %d got %d picks, want exactly %d", i, c, total/n)
				}
			}
		})
	}
}

func TestLeastConnectionsPicksAMinimum(t *testing.T) {
	b := LeastConnections()
	for _, n := range []int{2, 3, 8} {
		t.Run(fmt.Sprintf("shards=%d", n), func(t *testing.T) {
			loads := make(Static, n)
			for k := range picks {
				for i := range loads {
					loads[i] = rand.IntN(4) // small values: many ties
				}
				got := b.Pick(loads, peerN(k))
				for i, v := range loads {
					if v < loads[got] {
						t.Fatalf("loads %v: picked %d (load %d), shard %d has %d", loads, got, loads[got], i, v)
					}
				}
			}
		})
	}
}

func TestLeastConnectionsTies(t *testing.T) {
	tests := []struct {
		name  string
		loads Static
		want  []int // picks in order, from a fresh balancer
	}{
		{name: "all equal rotate", loads: Static{5, 5, 5, 5}, want: []int{0, 1, 2, 3, 0, 1}},
		{name: "two minima alternate", loads: Static{1, 0, 3, 0}, want: []int{1, 1, 3, 3, 1, 1}},
		{name: "single minimum always", loads: Static{4, 2, 3, 9}, want: []int{1, 1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := LeastConnections()
			for k, want := range tc.want {
				if got := b.Pick(tc.loads, netip.AddrPort{}); got != want {
					t.Fatalf("pick %d = %d, want %d (sequence %v)", k, got, want, tc.want)
				}
			}
		})
	}
}

func TestLeastConnectionsFillsEvenly(t *testing.T) {
	// Every pick opens a connection on the chosen shard: from a skewed start
	// the counts level out and then stay within one of each other.
	b := LeastConnections()
	loads := Static{300, 0, 100, 0, 50}
	for k := range picks {
		loads[b.Pick(loads, peerN(k))]++
	}
	if s := spread(loads); s > 1 {
		t.Errorf("loads %v: spread %d, want at most 1", loads, s)
	}
}

func TestPowerOfTwoAvoidsLoadedShard(t *testing.T) {
	tests := []struct {
		name    string
		preload int // live connections on shard 0 before the picks
		// maxPicks0 bounds the picks shard 0 may receive.
		maxPicks0 int
	}{
		// Shard 0 stays the most loaded throughout: it loses every draw.
		{name: "never catches up", preload: picks, maxPicks0: 0},
		// The others pass 1000 after ~7000 picks; only then may shard 0
		// take some. Level shares would give it 1375 of 11000 in total.
		{name: "catches up", preload: 1000, maxPicks0: 600},
	}
	const n = 8
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := PowerOfTwo()
			loads := make(Static, n)
			loads[0] = tc.preload
			for k := range picks {
				loads[b.Pick(loads, peerN(k))]++
			}
			if got := loads[0] - tc.preload; got > tc.maxPicks0 {
				t.Errorf("loaded shard got %d picks, want at most %d (loads %v)", got, tc.maxPicks0, loads)
			}
			// A uniform random choice leaves a spread near 100 here; two
			// choices keep it to a handful (at most 11 in 2,000 trial runs).
			rest := loads[1:]
			if tc.preload < picks {
				rest = loads
			}
			if s := spread(rest); s > 32 {
				t.Errorf("loads %v: spread %d, want at most 32", loads, s)
			}
		})
	}
}

func TestPowerOfTwoTwoShardsIsLeastLoaded(t *testing.T) {
	b := PowerOfTwo()
	for k := range 1000 {
		loads := Static{k % 3, 1}
		want := 0
		if loads[1] < loads[0] {
			want = 1
		}
		got := b.Pick(loads, netip.AddrPort{})
		if loads[0] != loads[1] && got != want {
			t.Fatalf("loads %v: picked %d, want %d", loads, got, want)
		}
	}
}

func TestSourceHashStable(t *testing.T) {
	tests := []struct {
		name  string
		peers []string // all must land on the same shard
	}{
		{name: "ipv4 ports", peers: []string{"192.0.2.7:1", "192.0.2.7:51000", "192.0.2.7:65535"}},
		{name: "ipv4 port zero", peers: []string{"198.51.100.1:0", "198.51.100.1:8080"}},
		{name: "ipv6 ports", peers: []string{"[2001:db8::42]:443", "[2001:db8::42]:12345"}},
		{name: "ipv4-mapped", peers: []string{"203.0.113.9:80", "[::ffff:203.0.113.9]:80", "[::ffff:cb00:7109]:9"}},
		{name: "ipv6 zone ignored", peers: []string{"[fe80::1%eth0]:22", "[fe80::1]:22", "[fe80::1%lo]:23"}},
	}
	b := SourceHash()
	for _, n := range []int{2, 3, 8, 64} {
		loads := make(Static, n)
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/shards=%d", tc.name, n), func(t *testing.T) {
				want := b.Pick(loads, netip.MustParseAddrPort(tc.peers[0]))
				for round := range 3 {
					for i, p := range tc.peers {
						loads[i%n] += 10 // loads do not matter
						if got := b.Pick(loads, netip.MustParseAddrPort(p)); got != want {
							t.Fatalf("round %d: %s -> %d, %s -> %d", round, tc.peers[0], want, p, got)
						}
					}
				}
			})
		}
	}
}

func TestSourceHashIndependentInstances(t *testing.T) {
	// The hash has no per-instance or per-process seed.
	a, b := SourceHash(), SourceHash()
	loads := make(Static, 16)
	for k := range 1000 {
		p := peerN(k * 7919)
		if x, y := a.Pick(loads, p), b.Pick(loads, p); x != y {
			t.Fatalf("%v: %d and %d from two instances", p, x, y)
		}
	}
}

func TestSourceHashSpread(t *testing.T) {
	tests := []struct {
		name string
		peer func(k int) netip.AddrPort
	}{
		{name: "ipv4 sequential", peer: peerN},
		{name: "ipv4 one /24 per port", peer: func(k int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(k >> 8), byte(k)}), 443)
		}},
		{name: "ipv6 sequential", peer: func(k int) netip.AddrPort {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			b[14], b[15] = byte(k>>8), byte(k)
			return netip.AddrPortFrom(netip.AddrFrom16(b), 443)
		}},
		{name: "ipv6 prefixes", peer: func(k int) netip.AddrPort {
			var b [16]byte
			b[0], b[1], b[6], b[7], b[15] = 0x20, 0x01, byte(k>>8), byte(k), 1
			return netip.AddrPortFrom(netip.AddrFrom16(b), 443)
		}},
		{name: "ipv6 random", peer: func(int) netip.AddrPort {
			var b [16]byte
			for i := range b {
				b[i] = byte(rand.Uint32())
			}
			return netip.AddrPortFrom(netip.AddrFrom16(b), 443)
		}},
	}
	for _, tc := range tests {
		for _, n := range []int{2, 3, 8, 16} {
			t.Run(fmt.Sprintf("%s/shards=%d", tc.name, n), func(t *testing.T) {
				b := SourceHash()
				loads := make(Static, n)
				seen := make(map[netip.Addr]bool, picks)
				for k := range picks {
					p := tc.peer(k)
					if seen[p.Addr()] {
						continue // random duplicates: count each address once
					}
					seen[p.Addr()] = true
					loads[b.Pick(make(Static, n), p)]++
				}
				mean := len(seen) / n
				for i, c := range loads {
					if c < mean*6/10 || c > mean*14/10 {
						t.Errorf("shard %d got %d of %d addresses, want within 40%% of %d (all %v)", i, c, len(seen), mean, loads)
					}
				}
			})
		}
	}
}

func TestSourceHashNoAddressFallsBackToRoundRobin(t *testing.T) {
	b := SourceHash()
	loads := Static{0, 9, 9}
	for k := range 9 {
		if got := b.Pick(loads, netip.AddrPort{}); got != k%3 {
			t.Fatalf("pick %d for the zero peer = %d, want %d (round-robin)", k, got, k%3)
		}
	}
	// The fallback does not disturb the hashed peers.
	p := netip.MustParseAddrPort("192.0.2.1:9")
	want := SourceHash().Pick(loads, p)
	if got := b.Pick(loads, p); got != want {
		t.Errorf("after fallback picks, %v -> %d, want %d", p, got, want)
	}
}

// atomicLoads is a Loads backed by atomics, as the engine's is.
type atomicLoads []atomic.Int64

func (a atomicLoads) Len() int       { return len(a) }
func (a atomicLoads) Load(i int) int { return int(a[i].Load()) }

func TestConcurrentPick(t *testing.T) {
	const (
		goroutines = 16
		each       = 500
		n          = 4
	)
	for _, bc := range all {
		t.Run(bc.name, func(t *testing.T) {
			b := bc.make()
			loads := make(atomicLoads, n)
			picked := make(atomicLoads, n) // picks per shard, never decremented
			var bad atomic.Int64
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for k := range each {
						p := peerN(g*each + k)
						if k%5 == 0 {
							p = netip.AddrPort{} // exercise source-hash's fallback too
						}
						i := b.Pick(loads, p)
						if i < 0 || i >= n {
							bad.Add(1)
							continue
						}
						loads[i].Add(1)
						picked[i].Add(1)
						if k%3 == 0 {
							loads[i].Add(-1) // a connection closes
						}
					}
				})
			}
			wg.Wait()
			if bad.Load() != 0 {
				t.Fatalf("%d picks out of range", bad.Load())
			}
			if bc.name == "round-robin" {
				// The atomic counter keeps the rotation exact under concurrency.
				for i := range picked {
					if got := picked.Load(i); got != goroutines*each/n {
						t.Errorf("shard %d picked %d times, want %d (counts %v)", i, got, goroutines*each/n, loadsOf(picked))
					}
				}
			}
		})
	}
}

// loadsOf copies an atomicLoads for printing.
func loadsOf(a atomicLoads) []int {
	s := make([]int, len(a))
	for i := range a {
		s[i] = a.Load(i)
	}
	return s
}

func TestPickAllocatesNothing(t *testing.T) {
	peers := []netip.AddrPort{
		{},
		netip.MustParseAddrPort("192.0.2.1:80"),
		netip.MustParseAddrPort("[2001:db8::1%eth0]:443"),
	}
	for _, bc := range all {
		t.Run(bc.name, func(t *testing.T) {
			b := bc.make()
			var loads Loads = Static{3, 1, 4, 1, 5, 9, 2, 6}
			for _, p := range peers {
				if a := testing.AllocsPerRun(100, func() { b.Pick(loads, p) }); a != 0 {
					t.Errorf("Pick(%v) allocates %v times, want 0", p, a)
				}
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range all {
		for _, n := range []int{4, 64} {
			b.Run(fmt.Sprintf("%s/shards=%d", bc.name, n), func(b *testing.B) {
				bal := bc.make()
				var loads Loads = make(atomicLoads, n) // boxed once, as the engine holds it
				peer := netip.MustParseAddrPort("[2001:db8::1]:443")
				b.ReportAllocs()
				for b.Loop() {
					bal.Pick(loads, peer)
				}
			})
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	for _, bc := range all {
		b.Run(bc.name, func(b *testing.B) {
			bal := bc.make()
			var loads Loads = make(atomicLoads, 8)
			peer := netip.MustParseAddrPort("192.0.2.1:80")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bal.Pick(loads, peer)
				}
			})
		})
	}
}

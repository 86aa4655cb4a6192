package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
)

// udpEcho writes every datagram back to its sender.
type udpEcho struct{}

func (udpEcho) OnDatagram(pc *PacketConn, p []byte, from netip.AddrPort) {
	_ = pc.WriteTo(p, from)
}

// startPacketEngine starts an engine with a datagram listener on addr.
// Cleanup stops it and checks that every fd it opened is closed.
func startPacketEngine(t testing.TB, h PacketHandler, addr string, popts []PacketOption, opts ...Option) (*Engine, *PacketListener) {
	t.Helper()
	base := fdcheck.Baseline(t)
	e, err := New(BaseHandler{}, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := e.ListenPacket(addr, h, popts...)
	if err != nil {
		e.Stop(context.Background())
		t.Fatalf("ListenPacket(%s): %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		fdcheck.Check(t, base)
	})
	return e, l
}

// udpClient is a plain net.UDPConn, closed at cleanup.
func udpClient(t testing.TB, network, laddr string) *net.UDPConn {
	t.Helper()
	var la *net.UDPAddr
	if laddr != "" {
		la = net.UDPAddrFromAddrPort(netip.MustParseAddrPort(laddr))
	}
	c, err := net.ListenUDP(network, la)
	if err != nil {
		t.Fatalf("client socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// udpRoundTrip sends msg to to and returns the reply and its source.
func udpRoundTrip(c *net.UDPConn, to netip.AddrPort, msg []byte) ([]byte, netip.AddrPort, error) {
	if _, err := c.WriteToUDPAddrPort(msg, to); err != nil {
		return nil, netip.AddrPort{}, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 70000)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nil
}

func packetStats(e *Engine) PacketStats {
	var sum PacketStats
	for _, s := range e.Stats().Shards {
		p := s.Packets
		sum.DatagramsIn += p.DatagramsIn
		sum.DatagramsOut += p.DatagramsOut
		sum.BytesIn += p.BytesIn
		sum.BytesOut += p.BytesOut
		sum.QueueDrops += p.QueueDrops
		sum.SendErrors += p.SendErrors
		sum.SendWaits += p.SendWaits
		sum.SocketErrors += p.SocketErrors
		sum.RcvbufDrops += p.RcvbufDrops
		sum.Truncated += p.Truncated
		sum.GSOSends += p.GSOSends
		sum.GROBatches += p.GROBatches
		sum.GSOFailures += p.GSOFailures
		sum.Panics += p.Panics
		sum.Sessions += p.Sessions
		sum.SessionsOpened += p.SessionsOpened
		sum.SessionsExpired += p.SessionsExpired
		sum.SessionsRefused += p.SessionsRefused
	}
	return sum
}

// TestPacketEcho echoes datagrams of several sizes, the empty one and the
// largest included, over IPv4 and IPv6, specific and wildcard binds, and
// checks that each reply comes from the address the request went to.
func TestPacketEcho(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		network string // the client's
		sendTo  string // the host the client sends to
		max     int    // the largest datagram
	}{
		{name: "udp4", listen: "udp4://127.0.0.1:0", network: "udp4", sendTo: "127.0.0.1", max: 65507},
		{name: "udp4-wildcard-127.0.0.2", listen: "udp4://0.0.0.0:0", network: "udp4", sendTo: "127.0.0.2", max: 65507},
		{name: "udp6", listen: "udp6://[::1]:0", network: "udp6", sendTo: "::1", max: 65527},
		{name: "udp6-wildcard", listen: "udp6://[::]:0", network: "udp6", sendTo: "::1", max: 65527},
		{name: "dual-stack-v4-peer", listen: "udp://:0", network: "udp4", sendTo: "127.0.0.3", max: 65507},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, l := startPacketEngine(t, udpEcho{}, tc.listen, nil, WithShards(2))
			port := netip.MustParseAddrPort(l.Addr().String()).Port()
			to := netip.AddrPortFrom(netip.MustParseAddr(tc.sendTo), port)
			c := udpClient(t, tc.network, "")
			sizes := []int{0, 1, 64, 1200, 9000, tc.max}
			for _, size := range sizes {
				msg := bytes.Repeat([]byte{byte(size)}, size)
				got, from, err := udpRoundTrip(c, to, msg)
				if err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("size %d: got %d bytes back, not the datagram", size, len(got))
				}
				if from != to {
					t.Fatalf("size %d: reply from %v, want %v", size, from, to)
				}
			}
			// The reply can arrive before the shard has counted it.
			var st PacketStats
			if !waitFor(5*time.Second, func() bool {
				st = packetStats(e)
				return st.DatagramsIn == uint64(len(sizes)) && st.DatagramsOut == uint64(len(sizes))
			}) {
				t.Fatalf("stats in=%d out=%d, want %d each", st.DatagramsIn, st.DatagramsOut, len(sizes))
			}
		})
	}
}

// recorder keeps every datagram and its sender, and the from address the
// handler saw.
type recorder struct {
	mu   sync.Mutex
	got  [][]byte
	from []netip.AddrPort
}

func (r *recorder) OnDatagram(_ *PacketConn, p []byte, from netip.AddrPort) {
	r.mu.Lock()
	r.got = append(r.got, bytes.Clone(p))
	r.from = append(r.from, from)
	r.mu.Unlock()
}

// flooded counts the datagrams other than "last" probes.
func (r *recorder) flooded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.got {
		if string(b) != "last" {
			n++
		}
	}
	return n
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// TestPacketUnmapsV4 checks that a dual-stack socket hands v4 senders to
// the handler as plain v4 addresses.
func TestPacketUnmapsV4(t *testing.T) {
	r := &recorder{}
	_, l := startPacketEngine(t, r, "udp://:0", nil, WithShards(1))
	port := netip.MustParseAddrPort(l.Addr().String()).Port()
	c := udpClient(t, "udp4", "127.0.0.1:0")
	if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return r.count() == 1 }) {
		t.Fatal("datagram not delivered")
	}
	want := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if got := r.from[0]; got != want || !got.Addr().Is4() {
		t.Fatalf("from %v, want %v (plain v4)", got, want)
	}
}

// TestPacketAsyncWriteTo sends from other goroutines through the socket's
// shard: every datagram arrives, in order per writer, and each done runs
// once.
func TestPacketAsyncWriteTo(t *testing.T) {
	_, l := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", nil, WithShards(2))
	c := udpClient(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	const writers, per = 4, 50
	var dones atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := l.Conns()[w%len(l.Conns())]
			for i := range per {
				msg := fmt.Appendf(nil, "w%d-%03d", w, i)
				if err := pc.AsyncWriteTo(msg, to, func(err error) {
					if err != nil {
						t.Errorf("done: %v", err)
					}
					dones.Add(1)
				}); err != nil {
					t.Errorf("AsyncWriteTo: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	last := make(map[byte]int)
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range writers * per {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var w byte
		var i int
		if _, err := fmt.Sscanf(string(buf[:n]), "w%c-%d", &w, &i); err != nil {
			t.Fatalf("bad datagram %q", buf[:n])
		}
		if prev, ok := last[w]; ok && i <= prev {
			t.Fatalf("writer %c: %d after %d", w, i, prev)
		}
		last[w] = i
	}
	if !waitFor(5*time.Second, func() bool { return dones.Load() == writers*per }) {
		t.Fatalf("%d done calls, want %d", dones.Load(), writers*per)
	}
}

// TestPacketWriteToErrors checks WriteTo's refusals: each returns its
// sentinel and the socket carries on.
func TestPacketWriteToErrors(t *testing.T) {
	errc := make(chan error, 8)
	h := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
		errc <- pc.WriteTo(make([]byte, 65508), from)
		errc <- pc.WriteTo(p, netip.MustParseAddrPort("[2001:db8::1]:9"))
		errc <- pc.WriteTo(p, netip.AddrPort{})
		errc <- pc.WriteTo(p, from)
	})
	_, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", nil, WithShards(1))
	c := udpClient(t, "udp4", "")
	got, _, err := udpRoundTrip(c, netip.MustParseAddrPort(l.Addr().String()), []byte("ping"))
	if err != nil || string(got) != "ping" {
		t.Fatalf("round trip after refusals: %q, %v", got, err)
	}
	for _, want := range []error{ErrDatagramTooLarge, ErrAddressFamily, ErrAddressFamily, nil} {
		if err := <-errc; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("WriteTo: %v, want %v", err, want)
		}
	}
}

// packetFunc adapts a function to PacketHandler.
type packetFunc func(pc *PacketConn, p []byte, from netip.AddrPort)

func (f packetFunc) OnDatagram(pc *PacketConn, p []byte, from netip.AddrPort) { f(pc, p, from) }

// TestPacketPanic checks that a panic in OnDatagram drops that datagram
// only: the next one is served and the panic counted.
func TestPacketPanic(t *testing.T) {
	h := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
		if string(p) == "boom" {
			panic("boom")
		}
		_ = pc.WriteTo(p, from)
	})
	e, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", nil, WithShards(1))
	c := udpClient(t, "udp4", "")
	to := netip.MustParseAddrPort(l.Addr().String())
	if _, err := c.WriteToUDPAddrPort([]byte("boom"), to); err != nil {
		t.Fatal(err)
	}
	got, _, err := udpRoundTrip(c, to, []byte("ok"))
	if err != nil || string(got) != "ok" {
		t.Fatalf("after a panic: %q, %v", got, err)
	}
	if p := packetStats(e).Panics; p != 1 {
		t.Fatalf("Panics = %d, want 1", p)
	}
}

// TestPacketListenerClose closes a listener while the engine runs: its
// fds go, and the port can be bound again.
func TestPacketListenerClose(t *testing.T) {
	_, l := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", nil, WithShards(2))
	base := fdcheck.Count(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fdcheck.Check(t, base-2)
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(l.Addr().String())))
	if err != nil {
		t.Fatalf("rebind after Close: %v", err)
	}
	c.Close()
	for _, pc := range l.Conns() {
		if err := pc.AsyncWriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9"), nil); !errors.Is(err, ErrConnClosed) {
			t.Fatalf("AsyncWriteTo after Close: %v", err)
		}
	}
}

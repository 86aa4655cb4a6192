package metrics

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// udpEcho sends every datagram back to its sender.
type udpEcho struct{}

func (udpEcho) OnDatagram(pc *engine.PacketConn, p []byte, from netip.AddrPort) { pc.WriteTo(p, from) }

// TestUDPMetricsMove: the datagram counters move by exactly what a client
// sent and got back, and a session shows up opened.
func TestUDPMetricsMove(t *testing.T) {
	e := startEngine(t, engine.BaseHandler{})
	l, err := e.ListenPacket("udp://127.0.0.1:0", udpEcho{}, engine.WithSessions(time.Minute, 16))
	if err != nil {
		t.Fatal(err)
	}
	c := New(e)
	s := serveMetrics(t, c)
	checkNames(t, c, s.scrape())

	nc, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n, size = 20, 100
	buf := make([]byte, 2*size)
	for i := 0; i < n; i++ {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if m, err := nc.Read(buf); err != nil || m != size {
			t.Fatalf("echo %d: %d bytes, %v", i, m, err)
		}
	}
	waitFor(t, "the counters", func() bool {
		f := s.scrape()
		return sum(t, f, "shardnet_shard_udp_datagrams_total", "direction", "out") == n
	})
	f := s.scrape()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"shardnet_shard_udp_datagrams_total", []string{"direction", "in"}, n},
		{"shardnet_shard_udp_datagrams_total", []string{"direction", "out"}, n},
		{"shardnet_shard_udp_bytes_total", []string{"direction", "in"}, n * size},
		{"shardnet_shard_udp_bytes_total", []string{"direction", "out"}, n * size},
		{"shardnet_shard_udp_dropped_datagrams_total", nil, 0},
		{"shardnet_shard_udp_sessions", nil, 1},
		{"shardnet_shard_udp_sessions_total", []string{"event", "opened"}, 1},
	} {
		if got := sum(t, f, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	checkNames(t, c, f)
}

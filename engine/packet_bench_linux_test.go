package engine

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// netUDPEcho is the baseline: the standard library's net.UDPConn with one
// goroutine reading and writing back.
func netUDPEcho(tb testing.TB) netip.AddrPort {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	tb.Cleanup(func() { c.Close(); wg.Wait() })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// windowClient keeps a window of datagrams in flight to one echo server
// and sends the next one for each echo, until total have come back: bulk
// traffic to one peer, what GSO and GRO are for.
type windowClient struct {
	msg         []byte
	sent, total int
	recv        int
	done        chan struct{}
}

func (w *windowClient) OnDatagram(pc *PacketConn, p []byte, _ netip.AddrPort) {
	w.recv++
	if w.sent < w.total {
		w.sent++
		_ = pc.Write(w.msg)
	}
	if w.recv == w.total {
		close(w.done)
	}
}

// BenchmarkPacketBulk echoes same-peer traffic, bulk (a window of 32
// datagrams in flight) and one at a time (window 1: nothing to batch),
// through the engine with segmentation offload (GSO on send, GRO on
// receive) allowed and switched off, and through net.UDPConn, in one run.
// The client is an engine socket with offload as the server's (on for the
// net server), on a shard of its own. A
// datagram lost on loopback stalls the window: the run then fails rather
// than report a rate it did not reach. allocs/op is per datagram, client
// included.
func BenchmarkPacketBulk(b *testing.B) {
	servers := []struct {
		name    string
		offload bool
		net     bool
	}{
		{name: "engine-offload", offload: true},
		{name: "engine-no-offload", offload: false},
		{name: "net", offload: true, net: true},
	}
	for _, window := range []int{32, 1} {
		for _, size := range []int{64, 1200} {
			for _, srv := range servers {
				benchWindow(b, srv.name, srv.offload, srv.net, size, window)
			}
		}
	}
}

func benchWindow(b *testing.B, name string, offload, useNet bool, size, window int) {
	b.Run(name+"/size="+strconv.Itoa(size)+"/window="+strconv.Itoa(window), func(b *testing.B) {
		opts := []Option{WithShards(1), WithPacketOffload(offload, offload), WithSocketBuffers(4<<20, 4<<20)}
		var to netip.AddrPort
		if useNet {
			to = netUDPEcho(b)
		} else {
			_, l := startPacketEngine(b, udpEcho{}, "udp4://127.0.0.1:0", nil, opts...)
			to = netip.MustParseAddrPort(l.Addr().String())
		}
		client, err := New(BaseHandler{}, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Stop(context.Background()) })
		run := func(total int) time.Duration {
			w := &windowClient{msg: make([]byte, size), total: total, done: make(chan struct{})}
			pc, err := client.DialPacket(to.String(), w)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			first := min(window, total)
			w.sent = first
			for range first {
				if err := pc.AsyncWriteTo(w.msg, netip.AddrPort{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-w.done:
			case <-time.After(30 * time.Second):
				b.Fatalf("window stalled: a datagram was lost")
			}
			elapsed := time.Since(start)
			closed := make(chan struct{})
			_ = client.shards[pc.Shard()].loop.Submit(func() { pc.Close(); close(closed) })
			<-closed
			return elapsed
		}
		run(1000) // warm up: batches, queues, pools
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		elapsed := run(max(b.N, window))
		b.StopTimer()
		b.ReportMetric(float64(max(b.N, window))/elapsed.Seconds(), "datagrams/s")
	})
}

// BenchmarkPacketPeers is the many-peer echo: 100 client sockets,
// each with 16 datagrams in flight, against the engine's echo (offload
// allowed) and net.UDPConn's (one goroutine), one server shard, in one
// run, the engine with offload allowed and switched off (on both sides).
// The clients are one engine shard. Replies to 100 peers leave in sendmmsg
// batches; with offload, each peer's burst travels as one GSO/GRO run. A
// lost datagram stalls its window and fails the run.
func BenchmarkPacketPeers(b *testing.B) {
	servers := []struct {
		name    string
		offload bool
		net     bool
	}{
		{name: "engine-offload", offload: true},
		{name: "engine-no-offload"},
		{name: "net", offload: true, net: true},
	}
	for _, size := range []int{64, 1200} {
		for _, srv := range servers {
			useNet := srv.net
			b.Run(srv.name+"/size="+strconv.Itoa(size), func(b *testing.B) {
				const peers, window = 100, 16
				opts := []Option{WithShards(1), WithSocketBuffers(4<<20, 4<<20), WithPacketOffload(srv.offload, srv.offload)}
				var to netip.AddrPort
				server := &Engine{} // net's: no stats
				if useNet {
					to = netUDPEcho(b)
				} else {
					var l *PacketListener
					server, l = startPacketEngine(b, udpEcho{}, "udp4://127.0.0.1:0", nil, opts...)
					to = netip.MustParseAddrPort(l.Addr().String())
				}
				client, err := New(BaseHandler{}, opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { client.Stop(context.Background()) })
				run := func(per int) time.Duration {
					ws := make([]*windowClient, peers)
					pcs := make([]*PacketConn, peers)
					for i := range ws {
						ws[i] = &windowClient{msg: make([]byte, size), total: per, done: make(chan struct{})}
						if pcs[i], err = client.DialPacket(to.String(), ws[i]); err != nil {
							b.Fatal(err)
						}
					}
					start := time.Now()
					for i, w := range ws {
						first := min(window, per)
						w.sent = first
						for range first {
							if err := pcs[i].AsyncWriteTo(w.msg, netip.AddrPort{}, nil); err != nil {
								b.Fatal(err)
							}
						}
					}
					for _, w := range ws {
						select {
						case <-w.done:
						case <-time.After(30 * time.Second):
							b.Fatalf("a window stalled: a datagram was lost; client %+v; server %+v", packetStats(client), packetStats(server))
						}
					}
					elapsed := time.Since(start)
					closed := make(chan struct{})
					_ = client.shards[0].loop.Submit(func() {
						for _, pc := range pcs {
							pc.Close()
						}
						close(closed)
					})
					<-closed
					return elapsed
				}
				run(50)
				per := max(b.N/peers, window)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				elapsed := run(per)
				b.StopTimer()
				b.ReportMetric(float64(per*peers)/elapsed.Seconds(), "datagrams/s")
			})
		}
	}
}

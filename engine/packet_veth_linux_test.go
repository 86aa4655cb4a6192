package engine

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vethPair is two network namespaces joined by a veth pair: 10.201.0.1 in
// a, 10.201.0.2 in b. Sockets made while a thread is in a namespace stay
// in it, so one process can serve in a and load from b.
type vethPair struct{ a, b string }

// newVethPair makes the namespaces and the pair, with GRO on both ends set
// to gro; cleanup deletes them. It skips without root or iproute2/ethtool.
func newVethPair(tb testing.TB, gro bool) vethPair {
	tb.Helper()
	p := vethPair{a: fmt.Sprintf("snva-%d", os.Getpid()), b: fmt.Sprintf("snvb-%d", os.Getpid())}
	if out, err := exec.Command("ip", "netns", "add", p.a).CombinedOutput(); err != nil {
		tb.Skipf("no network namespace here (needs root and iproute2): %v: %s", err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", p.a).Run() })
	if out, err := exec.Command("ip", "netns", "add", p.b).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add: %v: %s", err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", p.b).Run() })
	onoff := "off"
	if gro {
		onoff = "on"
	}
	for _, args := range [][]string{
		{"ip", "link", "add", "va", "netns", p.a, "type", "veth", "peer", "name", "vb", "netns", p.b},
		{"ip", "-n", p.a, "addr", "add", "10.201.0.1/24", "dev", "va"},
		{"ip", "-n", p.b, "addr", "add", "10.201.0.2/24", "dev", "vb"},
		{"ip", "-n", p.a, "link", "set", "va", "up"},
		{"ip", "-n", p.b, "link", "set", "vb", "up"},
		{"ip", "netns", "exec", p.a, "ethtool", "-K", "va", "gro", onoff},
		{"ip", "netns", "exec", p.b, "ethtool", "-K", "vb", "gro", onoff},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			tb.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	return p
}

// inNetns runs fn on a thread inside the named namespace. If the thread
// cannot go back, it stays locked and dies with the goroutine.
func inNetns(tb testing.TB, name string, fn func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			tb.Errorf("open own netns: %v", err)
			return
		}
		defer unix.Close(self)
		target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			tb.Errorf("open netns %s: %v", name, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			tb.Errorf("setns %s: %v", name, err)
			return
		}
		fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			tb.Errorf("setns back: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	<-done
}

// BenchmarkPacketVeth is BenchmarkPacketBulk's window of 32 datagrams of
// 1,200 bytes across a veth pair between two namespaces, where GRO is
// real: with the veth's GRO on, the receiving device coalesces a run of
// datagrams for a socket that asked for UDP_GRO, which loopback never
// does. Configurations, the same on server and client: GSO and GRO
// allowed; GRO only (so the runs the kernel coalesces were sent one by
// one); neither; and GRO only with the veth's GRO off. Root only (it
// makes namespaces); skipped otherwise.
func BenchmarkPacketVeth(b *testing.B) {
	tests := []struct {
		name     string
		gso, gro bool
		vethGRO  bool
	}{
		{name: "gso+gro", gso: true, gro: true, vethGRO: true},
		{name: "gro-only", gro: true, vethGRO: true},
		{name: "none", vethGRO: true},
		{name: "gro-only/veth-gro-off", gro: true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			const size, window = 1200, 32
			p := newVethPair(b, tc.vethGRO)
			opts := []Option{WithShards(1), WithPacketOffload(tc.gso, tc.gro), WithSocketBuffers(4<<20, 4<<20)}
			server, err := New(BaseHandler{}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { server.Stop(context.Background()) })
			client, err := New(BaseHandler{}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { client.Stop(context.Background()) })
			var l *PacketListener
			inNetns(b, p.a, func() { l, err = server.ListenPacket("udp4://10.201.0.1:0", udpEcho{}) })
			if err != nil {
				b.Fatal(err)
			}
			to := netip.MustParseAddrPort(l.Addr().String())
			run := func(total int) time.Duration {
				w := &windowClient{msg: make([]byte, size), total: total, done: make(chan struct{})}
				var pc *PacketConn
				inNetns(b, p.b, func() { pc, err = client.DialPacket(to.String(), w) })
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
			run(1000)
			before := packetStats(server)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			elapsed := run(max(b.N, window))
			b.StopTimer()
			after := packetStats(server)
			b.ReportMetric(float64(max(b.N, window))/elapsed.Seconds(), "datagrams/s")
			// The share of received runs the kernel coalesced: 0 when
			// nothing was, 1/32 when every window came as one run.
			b.ReportMetric(float64(after.GROBatches-before.GROBatches)/float64(after.DatagramsIn-before.DatagramsIn), "gro-batches/datagram")
		})
	}
}

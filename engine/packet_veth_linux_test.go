package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"

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
	removeStaleVethPairs()
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

// removeStaleVethPairs deletes the namespaces of test processes that were
// killed before their cleanup ran (named for their pid, which is gone), so
// a killed run leaves nothing behind for long.
func removeStaleVethPairs() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "snva-")
		if !ok {
			rest, ok = strings.CutPrefix(name, "snvb-")
		}
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(rest)
		if err != nil || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue // not ours, this process's, or its process lives
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	}
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

// TestPacketLinkLocal echoes over IPv6 link-local addresses across a veth
// pair: a DialPacket socket connects to fe80::a%<its interface> (the zone
// must reach connect, or the kernel cannot tell which link is meant), and
// the server's handler sees the sender with its interface as the zone, so
// that a reply, or a session, tells apart peers on different links.
func TestPacketLinkLocal(t *testing.T) {
	p := newVethPair(t, false)
	for _, args := range [][]string{
		{"ip", "-n", p.a, "-6", "addr", "add", "fe80::a/64", "dev", "va", "nodad"},
		{"ip", "-n", p.b, "-6", "addr", "add", "fe80::b/64", "dev", "vb", "nodad"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	indexIn := func(ns, name string) int {
		var idx int
		inNetns(t, ns, func() {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				t.Errorf("interface %s in %s: %v", name, ns, err)
				return
			}
			idx = ifi.Index
		})
		return idx
	}
	ia, ib := indexIn(p.a, "va"), indexIn(p.b, "vb")
	base := fdcheck.Baseline(t)
	e, err := New(BaseHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Stop(stopCtx(t, 5*time.Second)); err != nil {
			t.Error(err)
		}
		fdcheck.Check(t, base)
	}()
	seen := make(chan netip.AddrPort, 1)
	server := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
		select {
		case seen <- from:
		default:
		}
		_ = pc.WriteTo(p, from)
	})
	var l *PacketListener
	inNetns(t, p.a, func() { l, err = e.ListenPacket("udp6://[::]:0", server) })
	if err != nil {
		t.Fatal(err)
	}
	to := fmt.Sprintf("[fe80::a%%%d]:%d", ib, l.Conns()[0].LocalAddr().Port())
	r := &errRecorder{errs: make(chan error, 8)}
	var pc *PacketConn
	inNetns(t, p.b, func() { pc, err = e.DialPacket(to, r) })
	if err != nil {
		t.Fatalf("DialPacket %s: %v", to, err)
	}
	if err := pc.AsyncWriteTo([]byte("over the link"), netip.AddrPort{}, nil); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return r.count() == 1 }) {
		t.Fatalf("no reply; errors queued %d", len(r.errs))
	}
	from := <-seen
	if from.Addr().WithZone("") != netip.MustParseAddr("fe80::b") || from.Addr().Zone() != strconv.Itoa(ia) {
		t.Fatalf("the server saw the sender as %v, want fe80::b%%%d", from, ia)
	}
	if string(r.got[0]) != "over the link" {
		t.Fatalf("reply %q", r.got[0])
	}
}

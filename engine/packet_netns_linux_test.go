package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// netnsEnv marks the test binary re-executed inside a network namespace.
const netnsEnv = "SHARDNET_UDP_NETNS"

// TestPacketSendBufferFull makes the kernel refuse datagrams with EAGAIN:
// in a network namespace of its own, loopback gets a slow token-bucket
// qdisc, so sent datagrams wait there holding the socket's small send
// buffer. The test binary re-runs itself inside the namespace (ip netns
// exec), and there checks that the queue waits for EPOLLOUT and loses
// nothing, and that past WithPacketQueue a datagram is refused and counted
// while what was queued still goes out, in order.
func TestPacketSendBufferFull(t *testing.T) {
	if os.Getenv(netnsEnv) == "1" {
		sendBufferFullInNetns(t)
		return
	}
	runInNetns(t, "TestPacketSendBufferFull",
		[]string{"tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "8mbit", "burst", "16kb", "limit", "1mb"})
}

// runInNetns re-runs the test binary's test named test inside a network
// namespace of its own with loopback up, after the setup commands (run in
// the namespace), and fails if that run fails. It skips where namespaces
// cannot be made (no root, no iproute2).
func runInNetns(t *testing.T, test string, setup ...[]string) {
	t.Helper()
	ns := fmt.Sprintf("shardnet-udp-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("no network namespace here (needs root and iproute2): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range append([][]string{{"ip", "link", "set", "lo", "up"}}, setup...) {
		args = append([]string{"netns", "exec", ns}, args...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the run in the namespace failed: %v", err)
	}
}

// TestPacketGSOFallback makes GSO fail: in a namespace whose loopback
// MTU is 576, a UDP_SEGMENT write of 1,000-byte segments cannot be cut to
// fit and fails with EMSGSIZE (a device without checksum offload gave EIO
// before Linux 6.11, which now checksums in software). The socket must
// turn GSO off (counted in GSOFailures), resend the run one by one (the
// kernel fragments each datagram), and lose nothing.
func TestPacketGSOFallback(t *testing.T) {
	if os.Getenv(netnsEnv) != "1" {
		runInNetns(t, "TestPacketGSOFallback", []string{"ip", "link", "set", "lo", "mtu", "576"})
		return
	}
	r := &recorder{}
	e, l := startPacketEngine(t, r, "udp4://127.0.0.1:0", nil, WithShards(1))
	errs := &errRecorder{errs: make(chan error, 64)}
	pc, err := e.DialPacket(l.Addr().String(), errs)
	if err != nil {
		t.Fatal(err)
	}
	if !pc.GSO() {
		t.Fatal("GSO off before any write: the kernel should offer it")
	}
	defer func() {
		for len(errs.errs) > 0 {
			t.Errorf("socket error: %v", <-errs.errs)
		}
	}()
	const n = 20
	done := make(chan struct{})
	if err := e.shards[0].loop.Submit(func() {
		defer close(done)
		for i := range n {
			if err := pc.Write(bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
				t.Errorf("Write: %v", err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	<-done
	if !waitFor(5*time.Second, func() bool { return r.count() == n }) {
		t.Fatalf("%d of %d datagrams arrived; stats %+v", r.count(), n, packetStats(e))
	}
	for i := range n {
		if len(r.got[i]) != 1000 || r.got[i][0] != byte(i) {
			t.Fatalf("datagram %d out of order or cut", i)
		}
	}
	st := packetStats(e)
	t.Logf("GSO failures %d, GSO sends %d, out %d, send errors %d", st.GSOFailures, st.GSOSends, st.DatagramsOut, st.SendErrors)
	if st.GSOFailures != 1 || st.GSOSends != 0 || st.SendErrors != 0 || pc.GSO() {
		t.Fatalf("GSO failures %d, GSO sends %d, send errors %d, GSO still %v", st.GSOFailures, st.GSOSends, st.SendErrors, pc.GSO())
	}
}

// sendBufferFullInNetns is the part that runs inside the namespace.
func sendBufferFullInNetns(t *testing.T) {
	const n, size = 300, 1000
	// Without GSO every datagram is its own skb, charged to the send
	// buffer; with it, one message of up to 64 datagrams is allocated
	// whenever the buffer has any room, so only a long queue fills it.
	tests := []struct {
		name  string
		queue int
		gso   bool
	}{
		{name: "queue-holds-all", queue: 1 << 20},
		{name: "queue-holds-all-gso", queue: 1 << 20, gso: true},
		{name: "queue-bound", queue: 64 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := udpClient(t, "udp4", "127.0.0.1:0")
			_ = sink.SetReadBuffer(4 << 20)
			e, err := New(BaseHandler{}, WithShards(1), WithSocketBuffers(8192, 0), WithPacketQueue(tc.queue), WithPacketOffload(tc.gso, true))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			pc, err := e.DialPacket(sink.LocalAddr().String(), udpEcho{})
			if err != nil {
				t.Fatal(err)
			}
			// Every datagram written in one shard task: the flush at its
			// end meets a full send buffer whatever the timing.
			type result struct{ queued, dropped int }
			resc := make(chan result, 1)
			if err := e.shards[pc.Shard()].loop.Submit(func() {
				var r result
				msg := make([]byte, size)
				for i := range n {
					binary.BigEndian.PutUint32(msg, uint32(i))
					switch err := pc.Write(msg); {
					case err == nil:
						r.queued++
					case errors.Is(err, ErrOutputFull):
						r.dropped++
					default:
						t.Errorf("Write: %v", err)
					}
				}
				resc <- r
			}); err != nil {
				t.Fatal(err)
			}
			res := <-resc
			var queued, dropped atomic.Int64
			queued.Store(int64(res.queued))
			dropped.Store(int64(res.dropped))
			// Past the bound a write first sends what is queued; only
			// what the full send buffer leaves waiting counts.
			if fit := tc.queue / (size + datagramOverhead); res.queued < min(n, fit) {
				t.Fatalf("%d datagrams queued, want at least %d (the bound)", res.queued, min(n, fit))
			}
			// Read until the queued datagrams are all in, in order.
			got, prev := 0, -1
			buf := make([]byte, 2048)
			for int64(got) < queued.Load() {
				sink.SetReadDeadline(time.Now().Add(5 * time.Second))
				k, err := sink.Read(buf)
				if err != nil {
					t.Fatalf("after %d of %d: %v", got, queued.Load(), err)
				}
				seq := int(binary.BigEndian.Uint32(buf[:k]))
				if k != size || seq <= prev {
					t.Fatalf("datagram %d: %d bytes after %d", seq, k, prev)
				}
				prev = seq
				got++
			}
			var st PacketStats
			waitFor(5*time.Second, func() bool { st = packetStats(e); return st.DatagramsOut == uint64(queued.Load()) })
			t.Logf("%d sent, %d dropped at the queue bound; %d EAGAIN waits", st.DatagramsOut, st.QueueDrops, st.SendWaits)
			if st.SendWaits == 0 {
				t.Fatal("the send buffer never filled: the test did not reach EAGAIN")
			}
			if st.DatagramsOut != uint64(queued.Load()) || st.QueueDrops != uint64(dropped.Load()) {
				t.Fatalf("stats out %d drops %d; callbacks queued %d dropped %d", st.DatagramsOut, st.QueueDrops, queued.Load(), dropped.Load())
			}
			if tc.queue == 1<<20 && got != n {
				t.Fatalf("%d of %d arrived with a queue that holds them all", got, n)
			}
			if tc.queue < 1<<20 && dropped.Load() == 0 {
				t.Fatal("nothing was dropped past the queue bound")
			}
		})
	}
}

package engine

import (
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
	ns := fmt.Sprintf("shardnet-udp-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("no network namespace here (needs root and iproute2): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "8mbit", "burst", "16kb", "limit", "1mb"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestPacketSendBufferFull$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("the run in the namespace failed: %v", err)
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
			if want := min(n, tc.queue/(size+datagramOverhead)); res.queued != want {
				t.Fatalf("%d datagrams queued, want %d (the bound)", res.queued, want)
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

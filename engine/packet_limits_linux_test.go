package engine

import (
	"bytes"
	"errors"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestPacketQueueBound writes far more in one callback than the queue
// bound holds, to a socket whose kernel buffer keeps taking datagrams (on
// loopback a datagram leaves the send buffer as it is sent): the bound is
// for output the kernel cannot take yet, so a full queue is sent early and
// nothing is dropped. (The throttled namespace test covers drops.)
func TestPacketQueueBound(t *testing.T) {
	const burst, size = 3000, 1200
	var refused, accepted atomic.Int64
	h := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
		msg := make([]byte, size)
		for range burst {
			if err := pc.WriteTo(msg, from); err != nil {
				refused.Add(1)
				t.Errorf("WriteTo: %v", err)
				continue
			}
			accepted.Add(1)
		}
	})
	e, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", nil, WithShards(1), WithPacketQueue(256<<10))
	c := udpClient(t, "udp4", "")
	if _, err := c.WriteToUDPAddrPort([]byte("go"), netip.MustParseAddrPort(l.Addr().String())); err != nil {
		t.Fatal(err)
	}
	var st PacketStats
	if !waitFor(5*time.Second, func() bool {
		st = packetStats(e)
		return st.DatagramsOut+st.QueueDrops+st.SendErrors == burst
	}) {
		t.Fatalf("out %d + dropped %d + errors %d, want %d", st.DatagramsOut, st.QueueDrops, st.SendErrors, burst)
	}
	if accepted.Load() != burst || st.QueueDrops != 0 || st.DatagramsOut != burst {
		t.Fatalf("accepted %d, refused %d, QueueDrops %d, out %d", accepted.Load(), refused.Load(), st.QueueDrops, st.DatagramsOut)
	}
}

// TestPacketRcvbufOverflow stalls the shard while a client floods a socket
// with a small receive buffer: the kernel drops what does not fit, and
// the engine's count of those drops (SO_RXQ_OVFL) plus what it delivered
// is exactly what was sent. Nothing stalls afterwards.
func TestPacketRcvbufOverflow(t *testing.T) {
	release := make(chan struct{})
	var first atomic.Bool
	r := &recorder{}
	h := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
		if first.CompareAndSwap(false, true) {
			<-release // hold the shard so the socket's buffer fills
		}
		r.OnDatagram(pc, p, from)
	})
	e, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", nil, WithShards(1), WithSocketBuffers(0, 4096))
	to := netip.MustParseAddrPort(l.Addr().String())
	c := udpClient(t, "udp4", "")
	const flood = 500
	msg := make([]byte, 512)
	for range flood {
		if _, err := c.WriteToUDPAddrPort(msg, to); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	// Wait for the flood to be read, then send probes until one arrives:
	// the last datagram read carries the kernel's final drop count. (On
	// a loaded machine a probe may still find the buffer full: then it is
	// one of the drops.)
	quiet := func() int {
		last := -1
		for n := r.count(); n != last; n = r.count() {
			last = n
			time.Sleep(300 * time.Millisecond)
		}
		return last
	}
	before := quiet()
	probes := 0
	for r.count() == before {
		if probes == 20 {
			t.Fatal("the socket stalled after the overflow")
		}
		if _, err := c.WriteToUDPAddrPort([]byte("last"), to); err != nil {
			t.Fatal(err)
		}
		probes++
		waitFor(250*time.Millisecond, func() bool { return r.count() > before })
	}
	delivered := quiet()
	st := packetStats(e)
	if st.RcvbufDrops == 0 || st.RcvbufDrops+uint64(delivered) != flood+uint64(probes) {
		t.Fatalf("delivered %d (%d of the flood) + drops %d, want %d sent (and some drops)", delivered, r.flooded(), st.RcvbufDrops, flood+probes)
	}
	t.Logf("flood of %d and %d probes: %d of the flood delivered, %d dropped by the kernel", flood, probes, r.flooded(), st.RcvbufDrops)
}

// TestPacketTruncated sends a datagram larger than a receive slot: it is
// counted and dropped, never delivered cut, and the next one arrives.
func TestPacketTruncated(t *testing.T) {
	r := &recorder{}
	e, l := startPacketEngine(t, r, "udp4://127.0.0.1:0", nil, WithShards(1), WithPacketBatch(4, 1024), WithPacketOffload(true, false))
	to := netip.MustParseAddrPort(l.Addr().String())
	c := udpClient(t, "udp4", "")
	big, small := bytes.Repeat([]byte("b"), 2000), []byte("small")
	for _, m := range [][]byte{big, small} {
		if _, err := c.WriteToUDPAddrPort(m, to); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(5*time.Second, func() bool { return r.count() == 1 && packetStats(e).Truncated == 1 }) {
		t.Fatalf("delivered %d, truncated %d", r.count(), packetStats(e).Truncated)
	}
	if !bytes.Equal(r.got[0], small) {
		t.Fatalf("delivered %q", r.got[0])
	}
}

// errRecorder is a PacketHandler that keeps the socket errors it gets.
type errRecorder struct {
	recorder
	errs chan error
}

func (r *errRecorder) OnPacketError(_ *PacketConn, err error) { r.errs <- err }

// TestDialPacket talks to an echo listener from a connected socket of the
// same engine, then sends to a closed port and gets the ICMP error.
func TestDialPacket(t *testing.T) {
	e, l := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", nil, WithShards(2))
	r := &errRecorder{errs: make(chan error, 4)}
	pc, err := e.DialPacket("udp://"+l.Addr().String(), r, OnPacketShard(1))
	if err != nil {
		t.Fatal(err)
	}
	if pc.Shard() != 1 || pc.RemoteAddr().String() != l.Addr().String() {
		t.Fatalf("shard %d, peer %v", pc.Shard(), pc.RemoteAddr())
	}
	for i := range 3 {
		msg := []byte{byte(i)}
		if err := pc.AsyncWriteTo(msg, netip.AddrPort{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(5*time.Second, func() bool { return r.count() == 3 }) {
		t.Fatalf("%d echoes, want 3", r.count())
	}
	// A port nobody listens on: the kernel answers with ICMP port
	// unreachable, which a connected socket reports.
	dead := udpClient(t, "udp4", "127.0.0.1:0")
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	pc2, err := e.DialPacket(deadAddr, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc2.AsyncWriteTo([]byte("anyone?"), netip.AddrPort{}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.errs:
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("error %v, want connection refused", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ICMP error reported")
	}
	if _, err := e.DialPacket("udp://localhost:53", r); err == nil {
		t.Fatal("DialPacket with a host name: want an error")
	}
	if err := pc.AsyncWriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:1"), func(err error) {
		if !errors.Is(err, ErrAddressFamily) {
			t.Errorf("write to another peer on a connected socket: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// reentrant writes and closes from OnPacketError.
type reentrant struct {
	errs      atomic.Int64
	writeErrs chan error
}

func (*reentrant) OnDatagram(*PacketConn, []byte, netip.AddrPort) {}

func (r *reentrant) OnPacketError(pc *PacketConn, err error) {
	if !errors.Is(err, syscall.ECONNREFUSED) {
		r.writeErrs <- err
	}
	if r.errs.Add(1) == 2 {
		pc.Close()
	}
	r.writeErrs <- pc.Write([]byte("again"))
}

// TestPacketErrorReentry sends to a closed port from a connected socket in
// one shard task: the ICMP errors reach OnPacketError from the send and
// receive paths, and the handler writes and, on the second, closes the
// socket from there. Nothing panics, the socket closes once (the fd check
// at cleanup), and writes after the close fail with ErrConnClosed.
func TestPacketErrorReentry(t *testing.T) {
	e, _ := startPacketEngine(t, udpEcho{}, "udp4://127.0.0.1:0", nil, WithShards(1))
	dead := udpClient(t, "udp4", "127.0.0.1:0")
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	r := &reentrant{writeErrs: make(chan error, 1024)}
	pc, err := e.DialPacket(deadAddr, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.shards[0].loop.Submit(func() {
		for range 50 {
			_ = pc.Write([]byte("anyone?"))
			_ = pc.Flush()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return r.errs.Load() >= 2 }) {
		t.Fatalf("%d errors reported, want at least 2", r.errs.Load())
	}
	closed := make(chan bool)
	_ = e.shards[0].loop.Submit(func() { closed <- pc.Closed() })
	if !<-closed {
		t.Fatal("the socket is open after Close from OnPacketError")
	}
	if p := packetStats(e).Panics; p != 0 {
		t.Fatalf("%d panics", p)
	}
	var sawClosed bool
	for len(r.writeErrs) > 0 {
		err := <-r.writeErrs
		if err != nil && !errors.Is(err, ErrConnClosed) {
			t.Fatalf("unexpected error: %v", err)
		}
		sawClosed = sawClosed || errors.Is(err, ErrConnClosed)
	}
	if !sawClosed {
		t.Fatal("no write after the close was refused with ErrConnClosed")
	}
}

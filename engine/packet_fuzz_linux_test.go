package engine

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// alignedCopy copies b into 8-byte aligned memory, as the kernel's control
// buffers are, so the parser's header reads are aligned.
func alignedCopy(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8+1)
	out := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)[:len(b)]
	copy(out, b)
	return out
}

// FuzzParseCmsgs feeds the control-message parser arbitrary bytes (it
// must not panic or read past them) and messages built the way the kernel
// builds them, which must come back as written.
func FuzzParseCmsgs(f *testing.F) {
	f.Add([]byte{}, uint32(0), make([]byte, 16), false, uint32(0), 0)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint32(3), []byte{127, 0, 0, 1}, false, uint32(7), 1200)
	f.Add(bytes.Repeat([]byte{16, 0, 0, 0, 0, 0, 0, 0}, 8), uint32(1), []byte{0xfe, 0x80, 15: 1}, true, uint32(1<<31), 64)
	f.Fuzz(func(t *testing.T, junk []byte, ifindex uint32, addrBytes []byte, v6 bool, ovfl uint32, seg int) {
		var addr [16]byte
		copy(addr[:], addrBytes)
		parseCmsgs(alignedCopy(junk)) // must not panic

		seg &= 0xffff
		buf := alignedCopy(make([]byte, oobSize))
		used := 0
		var want rxInfo
		if v6 {
			data, sp := putCmsg(buf, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			copy(data, addr[:])
			binary.NativeEndian.PutUint32(data[16:], ifindex)
			want.dst, want.ifindex = netip.AddrFrom16(addr).Unmap(), int32(ifindex)
			used += sp
		} else {
			data, sp := putCmsg(buf, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
			binary.NativeEndian.PutUint32(data, ifindex)
			copy(data[8:12], addr[:4])
			want.dst, want.ifindex = netip.AddrFrom4([4]byte(addr[:4])), int32(ifindex)
			used += sp
		}
		data, sp := putCmsg(buf[used:], unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 4)
		binary.NativeEndian.PutUint32(data, ovfl)
		want.ovfl, want.hasOvfl = ovfl, true
		used += sp
		if seg > 0 {
			data, sp := putCmsg(buf[used:], unix.IPPROTO_UDP, unix.UDP_GRO, 4)
			binary.NativeEndian.PutUint32(data, uint32(seg))
			want.seg = seg
			used += sp
		}
		if got := parseCmsgs(buf[:used]); got != want {
			t.Fatalf("parsed %+v, want %+v", got, want)
		}
		// A cut buffer (MSG_CTRUNC) yields what fits, never more.
		for cut := range used {
			parseCmsgs(buf[:cut])
		}
	})
}

// testPacketConn is a PacketConn with enough of a shard behind it for
// its send queue, used without a socket or a loop: it waits for EPOLLOUT
// (wantWrite), as when the kernel's buffer is full, so writes queue up to
// the bound and no flush starts.
func testPacketConn(gso bool, queue int) *PacketConn {
	cfg := defaultConfig()
	cfg.packetQueue = queue
	ps := &packetShard{sh: &shardCtx{e: &Engine{cfg: cfg}}, depth: 1} // depth: no flush task
	return &PacketConn{ps: ps, fd: -1, wantWrite: true, feat: socketFeatures{gso: gso}}
}

// FuzzSendQueue drives a socket's send queue with a script of writes,
// sends and compactions and checks it against a simple model (a list of
// datagrams): what is unsent is exactly the model's rest, in order, and
// every GSO run is contiguous, to one peer, same-size but a shorter last,
// within the kernel's limits.
func FuzzSendQueue(f *testing.F) {
	f.Add([]byte{10, 10, 10, 200, 5, 255, 30, 30, 1, 0, 0}, true)
	f.Add(bytes.Repeat([]byte{64}, 200), true)
	f.Add([]byte{0, 0, 255, 1, 2, 3, 255, 255}, false)
	peers := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.2:2")}
	f.Fuzz(func(t *testing.T, script []byte, gso bool) {
		pc := testPacketConn(gso, 64<<10)
		q := &pc.q
		var model [][]byte
		var modelTo []netip.AddrPort
		for i, op := range script {
			switch {
			case op == 255: // send one message's worth
				if q.head == len(q.items) {
					continue
				}
				end, seg := pc.gsoRun(q.head)
				checkRun(t, pc, q.head, end, seg)
				want := bytes.Join(model[:end-q.head], nil)
				first, last := q.items[q.head], q.items[end-1]
				if got := q.buf[first.off : last.off+last.n]; !bytes.Equal(got, want) {
					t.Fatalf("run bytes differ from the datagrams")
				}
				model, modelTo = model[end-q.head:], modelTo[end-q.head:]
				pc.sent(end - q.head)
			case op == 254:
				q.compact()
			default:
				size := int(op) * 7
				p := bytes.Repeat([]byte{byte(i)}, size)
				to := peers[int(op)%2]
				if op%5 == 0 {
					to = peers[0]
				}
				err := pc.queueDatagram(p, to, netip.Addr{}, 0)
				if err != nil {
					if q.size+size+datagramOverhead <= pc.ps.sh.e.cfg.packetQueue {
						t.Fatalf("refused under the bound: %v", err)
					}
					continue
				}
				model, modelTo = append(model, p), append(modelTo, to)
			}
			if pc.Queued() != len(model) {
				t.Fatalf("queued %d, model %d", pc.Queued(), len(model))
			}
			for k, it := range q.items[q.head:] {
				if !bytes.Equal(q.buf[it.off:it.off+it.n], model[k]) || it.to != modelTo[k] {
					t.Fatalf("entry %d differs from the model", k)
				}
			}
		}
	})
}

func checkRun(t *testing.T, pc *PacketConn, start, end, seg int) {
	t.Helper()
	q := &pc.q
	if end <= start || end-start > maxGSOSegments {
		t.Fatalf("run [%d,%d)", start, end)
	}
	if end-start == 1 {
		if seg != 0 {
			t.Fatalf("single datagram with segment size %d", seg)
		}
		return
	}
	if !pc.feat.gso {
		t.Fatal("a run without GSO")
	}
	first := q.items[start]
	total := 0
	for k := start; k < end; k++ {
		it := q.items[k]
		total += it.n
		if it.to != first.to || it.n == 0 || it.n > seg || (it.n < seg && k != end-1) {
			t.Fatalf("datagram %d (%d bytes to %v) in a run of %d to %v", k, it.n, it.to, seg, first.to)
		}
		if k > start && it.off != q.items[k-1].off+q.items[k-1].n {
			t.Fatal("run not contiguous")
		}
	}
	if seg != first.n || seg > maxGSOSegment4 || total > maxDatagram(false) {
		t.Fatalf("segment %d, total %d", seg, total)
	}
}

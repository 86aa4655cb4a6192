//go:build linux

package main

import (
	bin "encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzUDPFlowOnDatagram feeds arbitrary datagrams to a flow's checker: it
// must never panic, never count a datagram it did not verify, and keep its
// counts consistent (every counted echo unique, within what was sent).
func FuzzUDPFlowOnDatagram(f *testing.F) {
	const size, sent = 64, 100
	r := &udpBenchRun{benchRun: &benchRun{cfg: benchConfig{size: size, udp: true}, failed: make(chan struct{})}}
	r.pattern = make([]byte, size+patternPeriod)
	for i := range r.pattern {
		r.pattern[i] = byte(i % patternPeriod)
	}
	valid := func(flow uint32, seq uint64) []byte {
		p := make([]byte, size)
		bin.BigEndian.PutUint32(p, flow)
		bin.BigEndian.PutUint64(p[4:], seq)
		bin.BigEndian.PutUint64(p[12:], 1)
		off := int((seq + uint64(flow)) % patternPeriod)
		copy(p[udpHeaderLen:], r.pattern[off:])
		return p
	}
	f.Add(valid(3, 0))
	f.Add(valid(3, 99))
	f.Add(valid(3, 100))
	f.Add(valid(4, 5))
	f.Add([]byte{})
	f.Add(make([]byte, size))
	f.Fuzz(func(t *testing.T, p []byte) {
		r.epoch = time.Now()
		r.drain.Store(true) // count only: a flow without a socket must not send
		s := &udpBenchShard{r: r, hist: r.newHistogram()}
		r.shards = []*udpBenchShard{s}
		fl := &udpFlow{sh: s, idx: 3, sent: sent}
		for range 3 { // the same datagram again is a duplicate, never a second echo
			fl.OnDatagram(nil, p, netip.AddrPort{})
		}
		if fl.recv > 1 || s.recv.Load() != fl.recv || fl.recv+s.dups.Load()+s.tooOld.Load() > 3 {
			t.Fatalf("recv %d (shard %d), dups %d, too old %d after the same datagram three times",
				fl.recv, s.recv.Load(), s.dups.Load(), s.tooOld.Load())
		}
		if fl.recv == 1 {
			want := valid(3, bin.BigEndian.Uint64(p[4:]))
			copy(want[12:20], p[12:20]) // the send time is the sender's
			if string(p) != string(want) {
				t.Fatalf("counted a datagram that is not one the flow sent: %x", p)
			}
			if s.dups.Load() != 2 {
				t.Fatalf("a repeat of a counted datagram: %d duplicates, want 2", s.dups.Load())
			}
		}
	})
}

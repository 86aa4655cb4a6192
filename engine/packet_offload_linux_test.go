package engine

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// TestPacketGSOGRO sends a run of datagrams to one peer in one shard task
// from a GSO socket to a GRO socket: it leaves as one GSO write and, on
// loopback, arrives as one coalesced run, which the receiver splits back
// into the datagrams, in order, byte for byte (the last one shorter). A
// panic on one datagram of the run drops that one only.
func TestPacketGSOGRO(t *testing.T) {
	tests := []struct {
		name    string
		panicAt int // -1: none
	}{
		{name: "split", panicAt: -1},
		{name: "panic-mid-run", panicAt: 3},
		{name: "panic-last", panicAt: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			h := packetFunc(func(pc *PacketConn, p []byte, from netip.AddrPort) {
				if tc.panicAt >= 0 && len(p) > 0 && int(p[0]) == tc.panicAt {
					panic("datagram " + string(rune('0'+tc.panicAt)))
				}
				r.OnDatagram(pc, p, from)
			})
			e, l := startPacketEngine(t, h, "udp4://127.0.0.1:0", nil, WithShards(1))
			pc, err := e.DialPacket(l.Addr().String(), udpEcho{})
			if err != nil {
				t.Fatal(err)
			}
			if !pc.GSO() || !l.Conns()[0].GRO() {
				t.Fatalf("GSO %v, GRO %v: this kernel should have both", pc.GSO(), l.Conns()[0].GRO())
			}
			var want [][]byte
			for i := range 10 {
				size := 100
				if i == 9 {
					size = 40
				}
				want = append(want, bytes.Repeat([]byte{byte(i)}, size))
			}
			done := make(chan struct{})
			if err := e.shards[0].loop.Submit(func() {
				defer close(done)
				for _, m := range want {
					if err := pc.Write(m); err != nil {
						t.Errorf("Write: %v", err)
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			<-done
			n := len(want)
			if tc.panicAt >= 0 {
				want = append(want[:tc.panicAt:tc.panicAt], want[tc.panicAt+1:]...)
			}
			if !waitFor(5*time.Second, func() bool { return r.count() == len(want) }) {
				t.Fatalf("%d datagrams delivered, want %d", r.count(), len(want))
			}
			for i := range want {
				if !bytes.Equal(r.got[i], want[i]) {
					t.Fatalf("datagram %d: %d bytes of %d, want %d of %d", i, len(r.got[i]), r.got[i][0], len(want[i]), want[i][0])
				}
			}
			st := packetStats(e)
			if st.GSOSends != 1 || st.GROBatches != 1 || st.DatagramsIn != uint64(n) {
				t.Fatalf("GSO sends %d, GRO batches %d, in %d: want one run of %d", st.GSOSends, st.GROBatches, st.DatagramsIn, n)
			}
			if tc.panicAt >= 0 && st.Panics != 1 {
				t.Fatalf("Panics = %d", st.Panics)
			}
		})
	}
}

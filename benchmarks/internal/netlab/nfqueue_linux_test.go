package netlab

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// packetMessage builds a NFQNL_MSG_PACKET message as the kernel sends it.
func packetMessage(id uint32, payload []byte) []byte {
	hdr := make([]byte, 7)
	binary.BigEndian.PutUint32(hdr, id)
	body := append([]byte{unix.AF_INET, 0, 0, 0}, attr(nfqaPacketHdr, hdr)...)
	body = append(body, attr(nfqaPayload, payload)...)
	m := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	m = append(m, body...)
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], nfnlSubsysQueue<<8|nfqnlMsgPacket)
	return m
}

func TestParsePackets(t *testing.T) {
	a, b := []byte{0x45, 1, 2, 3, 4}, []byte{0x45, 9}
	dgram := append(packetMessage(7, a), packetMessage(8, b)...)
	msgs, err := parseNetlink(dgram)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("parseNetlink: %d messages, %v", len(msgs), err)
	}
	for i, want := range []struct {
		id      uint32
		payload []byte
	}{{7, a}, {8, b}} {
		p, ok := parsePacket(msgs[i].data)
		if !ok || p.id != want.id || !bytes.Equal(p.payload, want.payload) {
			t.Errorf("packet %d: %+v, %v; want id %d payload %x", i, p, ok, want.id, want.payload)
		}
	}
	if _, err := parseNetlink([]byte{200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("a message longer than its datagram was accepted")
	}
}

func FuzzParseNetlink(f *testing.F) {
	f.Add(packetMessage(1, []byte{0x45, 0, 0, 20}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := parseNetlink(b)
		for _, m := range msgs {
			parsePacket(m.data) // must not panic
		}
	})
}

func TestCorruptSegment(t *testing.T) {
	ip := make([]byte, 60)
	ip[0], ip[9] = 0x45, unix.IPPROTO_TCP
	for range 100 {
		got, ok := corruptSegment(ip)
		if !ok {
			t.Fatal("a TCP packet was not corrupted")
		}
		if !bytes.Equal(got[:20], ip[:20]) {
			t.Fatal("the IP header changed")
		}
		diff := 0
		for i := range got {
			if got[i] != ip[i] {
				diff++
			}
		}
		if diff != 1 {
			t.Fatalf("%d bytes changed, want 1", diff)
		}
	}
	udp := append([]byte(nil), ip...)
	udp[9] = unix.IPPROTO_UDP
	if _, ok := corruptSegment(udp); ok {
		t.Error("a UDP packet was corrupted")
	}
	if _, ok := corruptSegment(ip[:10]); ok {
		t.Error("a truncated packet was corrupted")
	}
}

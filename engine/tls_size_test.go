package engine

import (
	"testing"
	"unsafe"
)

// TestTLSConnSize pins what every idle TLS connection holds of ours, past
// the Conn itself, to the Go allocator's size classes it fits now: its
// TLS state in the 112-byte class and its connExtra (the handshake's
// timer, the TLS state's pointer) in the 128-byte class. The issue's
// target for an idle TLS connection's memory (a quarter of net/http's) is
// met by a few hundred bytes, so a field that only lives while the shard
// works on one connection belongs to the shard (tlsSrc, tlsOwned), one
// that only lives while the handshake runs to handshakeState, and one
// that only some connections use to connRare. The record cursor, one per
// connection, is pinned to 8 bytes.
func TestTLSConnSize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, max uintptr
	}{
		{"tlsConn", unsafe.Sizeof(tlsConn{}), 112},
		{"connExtra", unsafe.Sizeof(connExtra{}), 128},
		{"recordCursor", unsafe.Sizeof(recordCursor{}), 8},
	} {
		if tc.size > tc.max {
			t.Errorf("%s is %d bytes, over %d", tc.name, tc.size, tc.max)
		}
	}
}

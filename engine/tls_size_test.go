package engine

import (
	"testing"
	"unsafe"
)

// TestTLSConnSize pins the per-connection TLS state within the Go
// allocator's 128-byte size class: every idle TLS connection holds one,
// and the target for an idle TLS connection's memory (a quarter
// of net/http's) leaves no room for a field that only lives while the
// shard works on one connection (those are the shard's: tlsSrc,
// tlsOwned) or while the handshake runs (handshakeState's). The record
// cursor, one per connection, is pinned to 8 bytes.
func TestTLSConnSize(t *testing.T) {
	if n := unsafe.Sizeof(tlsConn{}); n > 128 {
		t.Errorf("tlsConn is %d bytes, over the 128-byte size class", n)
	}
	if n := unsafe.Sizeof(recordCursor{}); n > 8 {
		t.Errorf("recordCursor is %d bytes, want 8", n)
	}
}

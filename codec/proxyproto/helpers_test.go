package proxyproto

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes hex written with spaces and line breaks for reading.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

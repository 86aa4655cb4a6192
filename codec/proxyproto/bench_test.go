package proxyproto

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkParse measures a receiver's cost per connection: one header
// parsed from a buffer that holds it whole.
func BenchmarkParse(b *testing.B) {
	var h Header
	h.Command = Proxy
	for _, tc := range []struct {
		name    string
		version int
		family  Family
	}{{"v1/tcp4", 1, TCP4}, {"v1/tcp6", 1, TCP6}, {"v2/tcp4", 2, TCP4}, {"v2/tcp6", 2, TCP6}} {
		h.Version, h.Family = tc.version, tc.family
		h.Source, h.Destination = netip.MustParseAddrPort("[2001:db8::1]:50000"), netip.MustParseAddrPort("[2001:db8::2]:443")
		if tc.family == TCP4 {
			h.Source, h.Destination = netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("192.0.2.2:443")
		}
		in, err := h.Append(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend measures a sender's cost per connection.
func BenchmarkAppend(b *testing.B) {
	h := Header{Command: Proxy, Family: TCP4, Source: netip.MustParseAddrPort("192.0.2.1:50000"),
		Destination: netip.MustParseAddrPort("192.0.2.2:443")}
	buf := make([]byte, 0, 128)
	for _, v := range []int{1, 2} {
		h.Version = v
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			b.ReportAllocs()
			out, _ := h.Append(buf[:0])
			b.SetBytes(int64(len(out)))
			for b.Loop() {
				if _, err := h.Append(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

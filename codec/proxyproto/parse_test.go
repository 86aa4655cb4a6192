package proxyproto

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"

	"github.com/shardnet/shardnet/codec"
)

const sigHex = "0d0a0d0a000d0a515549540a"

// v2Unix is a version 2 header for a unix stream socket, built by hand:
// sun_path fields are 108 NUL-padded bytes.
func v2Unix(t testing.TB, src, dst string) []byte {
	b := unhex(t, sigHex+"21 31 00d8")
	for _, p := range []string{src, dst} {
		f := make([]byte, 108)
		copy(f, p)
		b = append(b, f...)
	}
	return b
}

// withCRC returns a copy of hdr with a CRC32C TLV appended and the length
// field grown to match; bad flips the checksum.
func withCRC(t testing.TB, hdr []byte, bad bool) []byte {
	b := append([]byte(nil), hdr...)
	b = append(b, 0x03, 0x00, 0x04, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-16))
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	if bad {
		sum ^= 1
	}
	binary.BigEndian.PutUint32(b[len(b)-4:], sum)
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseValid(t *testing.T) {
	tcp4 := unhex(t, sigHex+"21 11 000c 7f000001 0a000002 1388 0050")
	tests := []struct {
		name string
		in   []byte
		n    int // the header's length; in may hold more after it
		want Header
	}{
		{
			name: "v1 spec example before an HTTP request",
			in:   []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"),
			n:    len("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
			want: Header{Version: 1, Command: Proxy, Family: TCP4, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")},
		},
		{
			name: "v1 longest TCP4 line of the spec (56 bytes)",
			in:   []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
			n:    56,
			want: Header{Version: 1, Command: Proxy, Family: TCP4, Source: ap("255.255.255.255:65535"), Destination: ap("255.255.255.255:65535")},
		},
		{
			name: "v1 longest TCP6 line of the spec (104 bytes)",
			in:   []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			n:    104,
			want: Header{Version: 1, Command: Proxy, Family: TCP6,
				Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")},
		},
		{
			name: "v1 TCP6 compressed, port 0",
			in:   []byte("PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"),
			n:    35,
			want: Header{Version: 1, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:0"), Destination: ap("[::1]:8080")},
		},
		{
			name: "v1 UNKNOWN short form (15 bytes)",
			in:   []byte("PROXY UNKNOWN\r\nhello"),
			n:    15,
			want: Header{Version: 1, Command: Proxy, Family: Unspec},
		},
		{
			name: "v1 UNKNOWN worst case of the spec (107 bytes), rest ignored",
			in:   []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			n:    107,
			want: Header{Version: 1, Command: Proxy, Family: Unspec},
		},
		{
			name: "v2 TCP over IPv4",
			in:   append(append([]byte(nil), tcp4...), "payload"...),
			n:    28,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("127.0.0.1:5000"), Destination: ap("10.0.0.2:80")},
		},
		{
			name: "v2 UDP over IPv4",
			in:   unhex(t, sigHex+"21 12 000c c0000201 c0000202 0035 0035"),
			n:    28,
			want: Header{Version: 2, Command: Proxy, Family: UDP4, Source: ap("192.0.2.1:53"), Destination: ap("192.0.2.2:53")},
		},
		{
			name: "v2 TCP over IPv6",
			in:   unhex(t, sigHex+"21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 c350 01bb"),
			n:    52,
			want: Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:50000"), Destination: ap("[2001:db8::2]:443")},
		},
		{
			name: "v2 UDP over IPv6",
			in:   unhex(t, sigHex+"21 22 0024 00000000000000000000000000000001 00000000000000000000000000000001 1f90 1f91"),
			n:    52,
			want: Header{Version: 2, Command: Proxy, Family: UDP6, Source: ap("[::1]:8080"), Destination: ap("[::1]:8081")},
		},
		{
			name: "v2 unix stream",
			in:   v2Unix(t, "/run/client.sock", "/run/server.sock"),
			n:    16 + 216,
			want: Header{Version: 2, Command: Proxy, Family: UnixStream, SourcePath: "/run/client.sock", DestinationPath: "/run/server.sock"},
		},
		{
			name: "v2 LOCAL without addresses (a health check)",
			in:   unhex(t, sigHex+"20 00 0000"),
			n:    16,
			want: Header{Version: 2, Command: Local},
		},
		{
			name: "v2 LOCAL with an address block, which is skipped",
			in:   unhex(t, sigHex+"20 11 000c 7f000001 7f000001 1388 0050"),
			n:    28,
			want: Header{Version: 2, Command: Local},
		},
		{
			name: "v2 LOCAL with an undefined family byte, which is ignored",
			in:   unhex(t, sigHex+"20 ff 0000"),
			n:    16,
			want: Header{Version: 2, Command: Local},
		},
		{
			name: "v2 PROXY with AF_UNSPEC",
			in:   unhex(t, sigHex+"21 00 0000"),
			n:    16,
			want: Header{Version: 2, Command: Proxy, Family: Unspec},
		},
		{
			name: "v2 AF_INET with the UNSPEC protocol falls back to unspec",
			in:   unhex(t, sigHex+"21 10 000c 7f000001 7f000001 1388 0050"),
			n:    28,
			want: Header{Version: 2, Command: Proxy, Family: Unspec},
		},
		{
			// AWS NLB: type 0xEA, subtype 0x01, then the VPC endpoint ID.
			name: "v2 TCP4 with AWS NLB's 0xEA TLV skipped",
			in: append(unhex(t, sigHex+"21 11 0026 0a000001 0a000002 d431 0050 ea 0017 01"),
				"vpce-08d2bf15fac5001c9"...),
			n:    16 + 38,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("10.0.0.1:54321"), Destination: ap("10.0.0.2:80")},
		},
		{
			name: "v2 TCP4 with NOOP and empty ALPN TLVs",
			in:   unhex(t, sigHex+"21 11 0017 0a000001 0a000002 d431 0050 04 0002 0000 01 0000 02 0000"),
			n:    16 + 23,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("10.0.0.1:54321"), Destination: ap("10.0.0.2:80")},
		},
		{
			name: "v2 TCP4 with a valid CRC32C TLV",
			in:   withCRC(t, tcp4, false),
			n:    28 + 7,
			want: Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("127.0.0.1:5000"), Destination: ap("10.0.0.2:80")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != tc.n || h != tc.want {
				t.Fatalf("Parse = %+v, %d; want %+v, %d", h, n, tc.want, tc.n)
			}
			// Decode over a Source gives the same and consumes nothing.
			src := codec.NewBytes(append([]byte(nil), tc.in...))
			h2, n2, err := Decode(src)
			if err != nil || h2 != h || n2 != n || src.Buffered() != len(tc.in) {
				t.Fatalf("Decode = %+v, %d, %v (buffered %d); want Parse's", h2, n2, err, src.Buffered())
			}
			// Every proper prefix is a valid start: wait for more.
			for k := range tc.n {
				if _, _, err := Parse(tc.in[:k]); !errors.Is(err, codec.ErrNeedMore) {
					t.Fatalf("Parse of the first %d of %d bytes: %v; want ErrNeedMore", k, tc.n, err)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tcp4 := unhex(t, sigHex+"21 11 000c 7f000001 0a000002 1388 0050")
	long := make([]byte, 16+2049)
	copy(long, unhex(t, sigHex+"21 11 0801"))
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"HTTP instead of a header", "GET / HTTP/1.1\r\n", ErrNoHeader},
		{"v1 signature broken at its 3rd byte", "PRX", ErrNoHeader},
		{"v1 lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrNoHeader},
		{"v1 without the space", "PROXYTCP4", ErrNoHeader},
		{"v2 signature broken at its 6th byte", "\r\n\r\n\x00X", ErrNoHeader},
		{"v1 LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ErrMalformed},
		{"v1 lone CR before more bytes", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", ErrMalformed},
		{"v1 CR inside the line", "PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 no CRLF in 107 bytes", "PROXY UNKNOWN " + strings.Repeat("f", 93), ErrTooLong},
		{"v1 protocol TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", ErrUnsupported},
		{"v1 UDP4 is not in version 1", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrUnsupported},
		{"v1 empty protocol", "PROXY \r\n", ErrUnsupported},
		{"v1 leading zero in an IPv4 octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 IPv6 address for TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", ErrMalformed},
		{"v1 IPv4 address for TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 IPv6 with a zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", ErrMalformed},
		{"v1 port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", ErrMalformed},
		{"v1 port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", ErrMalformed},
		{"v1 negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", ErrMalformed},
		{"v1 two spaces", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 a field missing", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ErrMalformed},
		{"v1 a field too many", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", ErrMalformed},
		{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", ErrMalformed},
		{"v2 version 1 nibble", string(unhex(t, sigHex+"11")), ErrUnsupported},
		{"v2 command 2", string(unhex(t, sigHex+"22")), ErrUnsupported},
		{"v2 family 4", string(unhex(t, sigHex+"21 41 000c 7f000001 0a000002 1388 0050")), ErrUnsupported},
		{"v2 protocol 3", string(unhex(t, sigHex+"21 13 000c 7f000001 0a000002 1388 0050")), ErrUnsupported},
		{"v2 length 65535, refused before the bytes", string(unhex(t, sigHex+"21 11 ffff")), ErrTooLong},
		{"v2 length past the default limit", string(long), ErrTooLong},
		{"v2 TCP4 block shorter than 12", string(unhex(t, sigHex+"21 11 000b 7f000001 0a000002 1388 00")), ErrMalformed},
		{"v2 TCP6 block shorter than 36", string(unhex(t, sigHex+"21 21 000c 7f000001 0a000002 1388 0050")), ErrMalformed},
		{"v2 TLV past the end", string(unhex(t, sigHex+"21 11 0010 7f000001 0a000002 1388 0050 ea 0005 01")), ErrMalformed},
		{"v2 stray bytes after the TLVs", string(unhex(t, sigHex+"21 11 000e 7f000001 0a000002 1388 0050 0400")), ErrMalformed},
		{"v2 CRC32C of the wrong length", string(unhex(t, sigHex+"21 11 0011 7f000001 0a000002 1388 0050 03 0002 0000")), ErrMalformed},
		{"v2 CRC32C mismatch", string(withCRC(t, tcp4, true)), ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %+v, %d, %v; want an error wrapping %v", h, n, err, tc.want)
			}
			if n != 0 || h != (Header{}) {
				t.Fatalf("Parse returned %+v, %d with its error", h, n)
			}
		})
	}
}

func TestParserLimit(t *testing.T) {
	p, err := NewParser(WithMaxLength(216))
	if err != nil {
		t.Fatal(err)
	}
	unix := v2Unix(t, "/a", "/b")
	if _, n, err := p.Parse(unix); err != nil || n != len(unix) {
		t.Fatalf("a unix header at the limit: %d, %v", n, err)
	}
	aws := append(unhex(t, sigHex+"21 31 00f0"), make([]byte, 216+24)...)
	if _, _, err := p.Parse(aws[:16]); !errors.Is(err, ErrTooLong) {
		t.Fatalf("a length of 240 with a limit of 216 read from the fixed part: %v; want ErrTooLong", err)
	}
	for _, bad := range []int{0, 215, 65536} {
		if _, err := NewParser(WithMaxLength(bad)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("WithMaxLength(%d): %v; want ErrInvalidOption", bad, err)
		}
	}
}

func TestParseAbstractUnix(t *testing.T) {
	b := v2Unix(t, "\x00abstract", "/run/x.sock")
	h, _, err := Parse(b)
	if err != nil || h.SourcePath != "@abstract" || h.DestinationPath != "/run/x.sock" {
		t.Fatalf("Parse = %+v, %v; want the abstract name as @abstract", h, err)
	}
	src, dst := h.Addrs()
	if src.String() != "@abstract" || src.Network() != "unix" || dst.String() != "/run/x.sock" {
		t.Fatalf("Addrs = %v, %v", src, dst)
	}
}

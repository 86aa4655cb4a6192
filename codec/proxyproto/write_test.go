package proxyproto

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want []byte
	}{
		{
			name: "v1 TCP4",
			h:    Header{Version: 1, Command: Proxy, Family: TCP4, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")},
			want: []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
		},
		{
			name: "v1 TCP6",
			h:    Header{Version: 1, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:0"), Destination: ap("[::1]:8080")},
			want: []byte("PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"),
		},
		{
			name: "v1 has no UDP: UNKNOWN",
			h:    Header{Version: 1, Command: Proxy, Family: UDP4, Source: ap("1.2.3.4:1"), Destination: ap("1.2.3.4:2")},
			want: []byte("PROXY UNKNOWN\r\n"),
		},
		{
			name: "v1 has no unix: UNKNOWN",
			h:    Header{Version: 1, Command: Proxy, Family: UnixStream, SourcePath: "/a", DestinationPath: "/b"},
			want: []byte("PROXY UNKNOWN\r\n"),
		},
		{
			name: "v1 has no LOCAL: UNKNOWN",
			h:    Header{Version: 1, Command: Local},
			want: []byte("PROXY UNKNOWN\r\n"),
		},
		{
			name: "v2 TCP4",
			h:    Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("127.0.0.1:5000"), Destination: ap("10.0.0.2:80")},
			want: unhex(t, sigHex+"21 11 000c 7f000001 0a000002 1388 0050"),
		},
		{
			name: "v2 TCP6",
			h:    Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:50000"), Destination: ap("[2001:db8::2]:443")},
			want: unhex(t, sigHex+"21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 c350 01bb"),
		},
		{
			name: "v2 LOCAL drops the addresses",
			h:    Header{Version: 2, Command: Local, Family: TCP4, Source: ap("127.0.0.1:5000"), Destination: ap("10.0.0.2:80")},
			want: unhex(t, sigHex+"20 00 0000"),
		},
		{
			name: "v2 unspec",
			h:    Header{Version: 2, Command: Proxy},
			want: unhex(t, sigHex+"21 00 0000"),
		},
		{
			name: "v2 unix",
			h:    Header{Version: 2, Command: Proxy, Family: UnixStream, SourcePath: "/run/client.sock", DestinationPath: "/run/server.sock"},
			want: v2Unix(t, "/run/client.sock", "/run/server.sock"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("x")
			got, err := tc.h.Append(prefix)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got[1:], tc.want) || got[0] != 'x' {
				t.Fatalf("Append = %q\nwant     %q", got[1:], tc.want)
			}
		})
	}
}

func TestAppendInvalid(t *testing.T) {
	tests := []struct {
		name string
		h    Header
	}{
		{"version 3", Header{Version: 3, Command: Proxy}},
		{"version 0", Header{Command: Proxy}},
		{"command 2", Header{Version: 2, Command: 2}},
		{"family out of range", Header{Version: 2, Command: Proxy, Family: 9}},
		{"TCP4 with an IPv6 source", Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("[::1]:1"), Destination: ap("1.2.3.4:2")}},
		{"TCP6 with an IPv4 destination", Header{Version: 1, Command: Proxy, Family: TCP6, Source: ap("[::1]:1"), Destination: ap("1.2.3.4:2")}},
		{"TCP4 without addresses", Header{Version: 1, Command: Proxy, Family: TCP4}},
		{"unix path of 109 bytes", Header{Version: 2, Command: Proxy, Family: UnixStream, SourcePath: string(make([]byte, 109)), DestinationPath: "/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.h.Append(nil)
			if !errors.Is(err, ErrInvalidHeader) || len(got) != 0 {
				t.Fatalf("Append = %q, %v; want nothing and ErrInvalidHeader", got, err)
			}
		})
	}
}

func TestFromAddrs(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(ap(s)) }
	tests := []struct {
		name     string
		version  int
		src, dst net.Addr
		want     Header
	}{
		{"TCP over IPv4", 1, tcp("192.0.2.1:40000"), tcp("192.0.2.2:443"),
			Header{Version: 1, Command: Proxy, Family: TCP4, Source: ap("192.0.2.1:40000"), Destination: ap("192.0.2.2:443")}},
		{"v4-mapped on a dual-stack socket becomes TCP4", 2, tcp("[::ffff:192.0.2.1]:40000"), tcp("[::ffff:192.0.2.2]:443"),
			Header{Version: 2, Command: Proxy, Family: TCP4, Source: ap("192.0.2.1:40000"), Destination: ap("192.0.2.2:443")}},
		{"v4 beside v6 is mapped", 2, tcp("192.0.2.1:40000"), tcp("[2001:db8::2]:443"),
			Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[::ffff:192.0.2.1]:40000"), Destination: ap("[2001:db8::2]:443")}},
		{"TCP over IPv6, zone dropped", 2, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "lo"}, tcp("[fe80::2]:2"),
			Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[fe80::1]:1"), Destination: ap("[fe80::2]:2")}},
		{"UDP", 2, net.UDPAddrFromAddrPort(ap("192.0.2.1:53")), net.UDPAddrFromAddrPort(ap("192.0.2.2:53")),
			Header{Version: 2, Command: Proxy, Family: UDP4, Source: ap("192.0.2.1:53"), Destination: ap("192.0.2.2:53")}},
		{"unix", 2, &net.UnixAddr{Name: "@c", Net: "unix"}, &net.UnixAddr{Name: "/s", Net: "unix"},
			Header{Version: 2, Command: Proxy, Family: UnixStream, SourcePath: "@c", DestinationPath: "/s"}},
		{"TCP and unix mixed", 2, tcp("192.0.2.1:1"), &net.UnixAddr{Name: "/s", Net: "unix"},
			Header{Version: 2, Command: Proxy, Family: Unspec}},
		{"nil", 1, nil, nil, Header{Version: 1, Command: Proxy, Family: Unspec}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := FromAddrs(tc.version, tc.src, tc.dst)
			if h != tc.want {
				t.Fatalf("FromAddrs = %+v\nwant        %+v", h, tc.want)
			}
			// What it builds, Append writes and Parse reads back (v1
			// carries only TCP).
			b, err := h.Append(nil)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			back, n, err := Parse(b)
			if err != nil || n != len(b) {
				t.Fatalf("Parse(%q) = %d, %v", b, n, err)
			}
			if tc.version == 2 || h.Family == TCP4 || h.Family == TCP6 {
				if back != h {
					t.Fatalf("round trip: %+v, want %+v", back, h)
				}
			}
		})
	}
}

func TestAddrs(t *testing.T) {
	h := Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:50000"), Destination: ap("[2001:db8::2]:443")}
	src, dst := h.Addrs()
	if src.Network() != "tcp" || src.String() != "[2001:db8::1]:50000" || dst.String() != "[2001:db8::2]:443" {
		t.Fatalf("Addrs = %v %v", src, dst)
	}
	h.Family = UDP4
	h.Source, h.Destination = ap("1.2.3.4:5"), ap("5.6.7.8:9")
	if src, _ := h.Addrs(); src.Network() != "udp" || src.String() != "1.2.3.4:5" {
		t.Fatalf("Addrs UDP = %v", src)
	}
	for _, nr := range []Header{{Version: 2, Command: Local, Family: TCP4}, {Version: 1, Command: Proxy}} {
		if src, dst := nr.Addrs(); src != nil || dst != nil || nr.Relayed() {
			t.Fatalf("%v: Addrs = %v, %v, want nils", nr, src, dst)
		}
	}
	if got := (Header{Version: 2, Command: Local}).String(); got != "PROXYv2 LOCAL" {
		t.Errorf("String = %q", got)
	}
	if got := (Header{Version: 1, Command: Proxy, Family: TCP4, Source: ap("1.2.3.4:5"), Destination: ap("5.6.7.8:9")}).String(); got != "PROXYv1 TCP4 1.2.3.4:5 -> 5.6.7.8:9" {
		t.Errorf("String = %q", got)
	}
}

func TestAppendAllocs(t *testing.T) {
	h := Header{Version: 2, Command: Proxy, Family: TCP6, Source: ap("[2001:db8::1]:50000"), Destination: ap("[2001:db8::2]:443")}
	buf := make([]byte, 0, 128)
	for _, v := range []int{1, 2} {
		h.Version = v
		if n := testing.AllocsPerRun(100, func() { _, _ = h.Append(buf[:0]) }); n != 0 {
			t.Errorf("v%d Append allocates %.0f times into a buffer with room", v, n)
		}
	}
	b, _ := h.Append(nil)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Parse(b) }); n != 0 {
		t.Errorf("v2 Parse allocates %.0f times", n)
	}
}

package proxyproto

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/shardnet/shardnet/codec"
)

// FuzzParse checks, for any input: Parse never panics; it returns exactly
// one of a header, ErrNeedMore or a sentinel error; a header's length is
// within the input and the limits; every proper prefix of a header waits
// for more; the header alone parses the same; Decode agrees; and a
// relayed header written again by Append parses back to itself.
func FuzzParse(f *testing.F) {
	seeds := [][]byte{
		[]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"),
		[]byte("PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
		[]byte("GET / HTTP/1.1\r\n"),
		unhex(f, sigHex+"21 11 000c 7f000001 0a000002 1388 0050"),
		unhex(f, sigHex+"20 00 0000"),
		unhex(f, sigHex+"21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 c350 01bb"),
		append(unhex(f, sigHex+"21 11 0026 0a000001 0a000002 d431 0050 ea 0017 01"), "vpce-08d2bf15fac5001c9"...),
		withCRC(f, unhex(f, sigHex+"21 11 000c 7f000001 0a000002 1388 0050"), false),
		v2Unix(f, "/run/a", "\x00b"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if h != (Header{}) || n != 0 {
				t.Fatalf("error %v came with %+v, %d", err, h, n)
			}
			known := false
			for _, s := range []error{codec.ErrNeedMore, ErrNoHeader, ErrTooLong, ErrMalformed, ErrUnsupported, ErrChecksum} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if errors.Is(err, codec.ErrNeedMore) && len(b) >= 16+DefaultMaxLength {
				t.Fatalf("%d bytes still need more", len(b))
			}
			return
		}
		if n < 15 || n > len(b) || n > 16+DefaultMaxLength || (h.Version == 1 && n > MaxV1Length) {
			t.Fatalf("length %d for %d input bytes, version %d", n, len(b), h.Version)
		}
		for k := range n {
			if _, _, err := Parse(b[:k]); !errors.Is(err, codec.ErrNeedMore) {
				t.Fatalf("prefix of %d of the header's %d bytes: %v", k, n, err)
			}
		}
		if h2, n2, err := Parse(b[:n]); err != nil || h2 != h || n2 != n {
			t.Fatalf("the header alone: %+v, %d, %v; want %+v, %d", h2, n2, err, h, n)
		}
		if h2, n2, err := Decode(codec.NewBytes(append([]byte(nil), b...))); err != nil || h2 != h || n2 != n {
			t.Fatalf("Decode: %+v, %d, %v; want %+v, %d", h2, n2, err, h, n)
		}
		if !h.Relayed() {
			return
		}
		if h.Family.isUnix() && (b[16] == '@' || b[16+108] == '@') {
			// A path that really starts with "@" reads as Go's spelling
			// of an abstract name, which Append writes as one.
			return
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatalf("Append of parsed %+v: %v", h, err)
		}
		back, m, err := Parse(out)
		if err != nil || back != h || m != len(out) {
			t.Fatalf("rewritten %q parsed as %+v, %d, %v; want %+v", out, back, m, err, h)
		}
	})
}

// FuzzAppend checks that whatever Append accepts, Parse reads back: the
// same header for version 2 and for version 1's TCP, UNKNOWN otherwise.
func FuzzAppend(f *testing.F) {
	f.Add(uint8(2), uint8(1), uint8(1), []byte{127, 0, 0, 1}, []byte{10, 0, 0, 2}, uint16(5000), uint16(80), "", "")
	f.Add(uint8(1), uint8(1), uint8(2), make([]byte, 16), make([]byte, 16), uint16(0), uint16(65535), "", "")
	f.Add(uint8(2), uint8(1), uint8(5), []byte(nil), []byte(nil), uint16(0), uint16(0), "/run/a", "@b")
	f.Add(uint8(2), uint8(0), uint8(0), []byte(nil), []byte(nil), uint16(0), uint16(0), "", "")
	f.Fuzz(func(t *testing.T, version, cmd, fam uint8, sa, da []byte, sp, dp uint16, spath, dpath string) {
		h := Header{Version: int(version), Command: Command(cmd), Family: Family(fam), SourcePath: spath, DestinationPath: dpath}
		if a, ok := netip.AddrFromSlice(sa); ok {
			h.Source = netip.AddrPortFrom(a, sp)
		}
		if a, ok := netip.AddrFromSlice(da); ok {
			h.Destination = netip.AddrPortFrom(a, dp)
		}
		out, err := h.Append(nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidHeader) || len(out) != 0 {
				t.Fatalf("Append: %q, %v", out, err)
			}
			return
		}
		back, n, err := Parse(out)
		if err != nil || n != len(out) {
			t.Fatalf("Parse(%q) = %d, %v", out, n, err)
		}
		want := h
		switch {
		case h.Command == Local && h.Version == 2:
			want = Header{Version: 2, Command: Local}
		case h.Version == 1 && (h.Command != Proxy || (h.Family != TCP4 && h.Family != TCP6)):
			want = Header{Version: 1, Command: Proxy}
		case h.Family.isInet():
			want.SourcePath, want.DestinationPath = "", ""
		case h.Family.isUnix():
			want.Source, want.Destination = netip.AddrPort{}, netip.AddrPort{}
			want.SourcePath, want.DestinationPath = pathRoundTrip(spath), pathRoundTrip(dpath)
		default:
			want = Header{Version: h.Version, Command: Proxy}
		}
		if back != want {
			t.Fatalf("Append(%+v) = %q, parsed as %+v; want %+v", h, out, back, want)
		}
	})
}

// pathRoundTrip is what a unix path becomes on the wire and back: a
// sun_path ends at its first NUL; one that starts with a NUL (or Go's "@")
// is an abstract name, which ends at its next NUL and reads back as "@name".
func pathRoundTrip(p string) string {
	abstract := len(p) > 0 && (p[0] == '@' || p[0] == 0)
	if abstract {
		p = p[1:]
	}
	for i := range len(p) {
		if p[i] == 0 {
			p = p[:i]
			break
		}
	}
	if abstract && p != "" {
		return "@" + p
	}
	return p
}

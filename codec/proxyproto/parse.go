package proxyproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"

	"github.com/shardnet/shardnet/codec"
)

const (
	// MaxV1Length is the longest version 1 line, CRLF included, that the
	// spec lets a sender write ("PROXY UNKNOWN" with two IPv6 addresses
	// and ports): a line without its CRLF in this many bytes is rejected.
	MaxV1Length = 107

	// DefaultMaxLength is the default limit on a version 2 header's length
	// field (the bytes after the fixed 16): the largest address block (216
	// bytes, unix) leaves room for TLVs such as AWS's VPC endpoint ID or
	// HAProxy's TLS details, while a hostile length of 64 KiB is refused
	// before it is waited for.
	DefaultMaxLength = 2048

	// minMaxLength is the least WithMaxLength accepts: a unix address
	// block must fit.
	minMaxLength = unixAddrLen * 2

	v1Prefix    = "PROXY "
	v2Signature = "\r\n\r\n\x00\r\nQUIT\n"
	v2Fixed     = 16  // signature, version and command, family, length
	unixAddrLen = 108 // sun_path
	tlvCRC32C   = 0x03
)

// Option configures a Parser in NewParser.
type Option func(*config)

type config struct {
	maxLength int // the largest version 2 length field accepted
}

// WithMaxLength sets the largest version 2 length field (address block
// and TLVs) the parser accepts; a larger one fails with ErrTooLong before
// its bytes arrive. Default DefaultMaxLength; at least 216.
func WithMaxLength(n int) Option { return func(c *config) { c.maxLength = n } }

// Parser parses PROXY protocol headers of either version with its limits.
// It keeps no state between calls, so one Parser serves every connection
// of every shard. The package's Parse and Decode use the defaults.
type Parser struct {
	maxLength int
}

// NewParser returns a Parser with the options.
func NewParser(opts ...Option) (*Parser, error) {
	cfg := config{maxLength: DefaultMaxLength}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxLength < minMaxLength || cfg.maxLength > 0xffff {
		return nil, fmt.Errorf("%w: WithMaxLength(%d): want %d..65535", ErrInvalidOption, cfg.maxLength, minMaxLength)
	}
	return &Parser{maxLength: cfg.maxLength}, nil
}

// Parse reads a header of either version from the start of b, which may
// hold only part of it, and the bytes that follow it, which are not
// looked at. It returns the header and its wire length n (the caller
// consumes n bytes), or codec.ErrNeedMore when b is a valid but
// incomplete prefix, or an error wrapping ErrNoHeader, ErrTooLong,
// ErrMalformed, ErrUnsupported or ErrChecksum. A prefix is rejected as
// soon as it cannot become a valid header, without waiting for more.
func (p *Parser) Parse(b []byte) (Header, int, error) { return parse(b, p.maxLength) }

// Decode is Parse over a codec.Source, such as the engine's Conn: it peeks
// at what is buffered (at most the longest header allowed) and consumes
// nothing; the caller discards n bytes once it has used the header.
func (p *Parser) Decode(src codec.Source) (Header, int, error) {
	return decode(src, p.maxLength)
}

// Parse is Parser.Parse with the default limits.
func Parse(b []byte) (Header, int, error) { return parse(b, DefaultMaxLength) }

// Decode is Parser.Decode with the default limits.
func Decode(src codec.Source) (Header, int, error) { return decode(src, DefaultMaxLength) }

func decode(src codec.Source, maxLength int) (Header, int, error) {
	n := min(src.Buffered(), max(MaxV1Length, v2Fixed+maxLength))
	b, err := src.Peek(n)
	if err != nil {
		return Header{}, 0, err
	}
	return parse(b, maxLength)
}

func parse(b []byte, maxLength int) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, codec.ErrNeedMore
	}
	switch b[0] {
	case v1Prefix[0]:
		return parseV1(b)
	case v2Signature[0]:
		return parseV2(b, maxLength)
	}
	return Header{}, 0, fmt.Errorf("%w: starts with %q", ErrNoHeader, clip(b))
}

// hasPrefix checks the part of b that the signature sig covers.
func hasPrefix(b []byte, sig string) error {
	k := min(len(b), len(sig))
	if string(b[:k]) != sig[:k] {
		return fmt.Errorf("%w: starts with %q", ErrNoHeader, clip(b))
	}
	if k < len(sig) {
		return codec.ErrNeedMore
	}
	return nil
}

// parseV1 reads "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN ...\r\n".
func parseV1(b []byte) (Header, int, error) {
	if err := hasPrefix(b, v1Prefix); err != nil {
		return Header{}, 0, err
	}
	line := b[:min(len(b), MaxV1Length)]
	lf := bytes.IndexByte(line, '\n')
	cr := bytes.IndexByte(line, '\r')
	switch {
	case lf < 0 && cr >= 0 && cr+1 < len(line):
		return Header{}, 0, fmt.Errorf("%w: v1: CR without LF at offset %d", ErrMalformed, cr)
	case lf < 0 && len(line) == MaxV1Length:
		return Header{}, 0, fmt.Errorf("%w: v1: no CRLF in the first %d bytes", ErrTooLong, MaxV1Length)
	case lf < 0:
		return Header{}, 0, codec.ErrNeedMore
	case cr != lf-1:
		return Header{}, 0, fmt.Errorf("%w: v1: LF without CR, or a lone CR, before offset %d", ErrMalformed, lf)
	}
	n := lf + 1
	body := line[len(v1Prefix) : lf-1]
	proto, rest, _ := bytes.Cut(body, []byte{' '})
	h := Header{Version: 1, Command: Proxy}
	switch string(proto) {
	case "UNKNOWN":
		return h, n, nil // the spec: ignore the rest of the line
	case "TCP4":
		h.Family = TCP4
	case "TCP6":
		h.Family = TCP6
	default:
		return Header{}, 0, fmt.Errorf("%w: v1 protocol %q", ErrUnsupported, clip(proto))
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < len(f)-1) {
			return Header{}, 0, fmt.Errorf("%w: v1: want 4 fields after %s separated by one space: %q", ErrMalformed, h.Family, clip(body))
		}
	}
	src, err := v1Addr(f[0], h.Family)
	if err != nil {
		return Header{}, 0, err
	}
	dst, err := v1Addr(f[1], h.Family)
	if err != nil {
		return Header{}, 0, err
	}
	sport, err := v1Port(f[2])
	if err != nil {
		return Header{}, 0, err
	}
	dport, err := v1Port(f[3])
	if err != nil {
		return Header{}, 0, err
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, n, nil
}

// v1Addr parses an address of family fam; netip already refuses leading
// zeros in IPv4, which the spec forbids.
func v1Addr(s []byte, fam Family) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(s))
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%w: v1: bad address %q", ErrMalformed, clip(s))
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%w: v1: address with a zone %q", ErrMalformed, clip(s))
	case fam == TCP4 && !a.Is4(), fam == TCP6 && !a.Is6():
		return netip.Addr{}, fmt.Errorf("%w: v1: address %q is not of family %s", ErrMalformed, clip(s), fam)
	}
	return a, nil
}

// v1Port parses a decimal port without leading zeros.
func v1Port(s []byte) (uint16, error) {
	if len(s) == 0 || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, fmt.Errorf("%w: v1: bad port %q", ErrMalformed, clip(s))
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: v1: bad port %q", ErrMalformed, clip(s))
		}
		v = v*10 + int(c-'0')
	}
	if v > 0xffff {
		return 0, fmt.Errorf("%w: v1: port %d out of range", ErrMalformed, v)
	}
	return uint16(v), nil
}

// v2Families maps a version 2 family-and-protocol byte to its Family and
// the length of its address block.
func v2Family(fp byte) (Family, int, error) {
	fam, proto := fp>>4, fp&0x0f
	if fam > 3 || proto > 2 {
		return Unspec, 0, fmt.Errorf("%w: v2 family and protocol byte %#02x", ErrUnsupported, fp)
	}
	switch fp {
	case 0x11:
		return TCP4, 12, nil
	case 0x12:
		return UDP4, 12, nil
	case 0x21:
		return TCP6, 36, nil
	case 0x22:
		return UDP6, 36, nil
	case 0x31:
		return UnixStream, 2 * unixAddrLen, nil
	case 0x32:
		return UnixDatagram, 2 * unixAddrLen, nil
	}
	// AF_UNSPEC or an UNSPEC protocol: the spec's fallback is to use the
	// socket's addresses and skip the block.
	return Unspec, 0, nil
}

// parseV2 reads the binary header.
func parseV2(b []byte, maxLength int) (Header, int, error) {
	if err := hasPrefix(b, v2Signature); err != nil {
		return Header{}, 0, err
	}
	if len(b) < 13 {
		return Header{}, 0, codec.ErrNeedMore
	}
	if v := b[12] >> 4; v != 2 {
		return Header{}, 0, fmt.Errorf("%w: v2 version %d at offset 12", ErrUnsupported, v)
	}
	cmd := Command(b[12] & 0x0f)
	if cmd > Proxy {
		return Header{}, 0, fmt.Errorf("%w: v2 command %d at offset 12", ErrUnsupported, cmd)
	}
	if len(b) < v2Fixed {
		return Header{}, 0, codec.ErrNeedMore
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if length > maxLength {
		return Header{}, 0, fmt.Errorf("%w: v2 length %d, limit %d", ErrTooLong, length, maxLength)
	}
	n := v2Fixed + length
	if len(b) < n {
		return Header{}, 0, codec.ErrNeedMore
	}
	hdr := b[:n]
	h := Header{Version: 2, Command: cmd}
	if cmd == Local {
		// The spec: discard the whole block, family included.
		return h, n, nil
	}
	fam, alen, err := v2Family(b[13])
	if err != nil {
		return Header{}, 0, err
	}
	if length < alen {
		return Header{}, 0, fmt.Errorf("%w: v2 length %d is shorter than %s's %d address bytes", ErrMalformed, length, fam, alen)
	}
	h.Family = fam
	a := hdr[v2Fixed : v2Fixed+alen]
	switch fam {
	case TCP4, UDP4:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case TCP6, UDP6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	case UnixStream, UnixDatagram:
		h.SourcePath = unixPath(a[:unixAddrLen])
		h.DestinationPath = unixPath(a[unixAddrLen:])
	case Unspec:
		// The addresses are ignored; so are the TLVs, whose start is unknown.
		return h, n, nil
	}
	if err := checkTLVs(hdr, v2Fixed+alen); err != nil {
		return Header{}, 0, err
	}
	return h, n, nil
}

// checkTLVs walks the TLVs of hdr from offset off: they must tile the
// rest of the header exactly. None is interpreted but CRC32C, which is
// verified: the spec asks a receiver that knows it to drop a header that
// fails it. The others (ALPN, authority, TLS details, AWS's 0xEA, ...) are
// skipped.
func checkTLVs(hdr []byte, off int) error {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return fmt.Errorf("%w: v2: %d stray bytes after the TLVs at offset %d", ErrMalformed, len(hdr)-off, off)
		}
		typ, l := hdr[off], int(binary.BigEndian.Uint16(hdr[off+1:off+3]))
		val := off + 3
		if l > len(hdr)-val {
			return fmt.Errorf("%w: v2: TLV type %#02x at offset %d has length %d, past the header's end", ErrMalformed, typ, off, l)
		}
		if typ == tlvCRC32C {
			if l != 4 {
				return fmt.Errorf("%w: v2: CRC32C TLV of length %d at offset %d", ErrMalformed, l, off)
			}
			if got, want := binary.BigEndian.Uint32(hdr[val:val+4]), crc32c(hdr, val); got != want {
				return fmt.Errorf("%w: header says %#08x, bytes give %#08x", ErrChecksum, got, want)
			}
		}
		off = val + l
	}
	return nil
}

// crc32c is the CRC32C of hdr with the four bytes at off taken as zeros.
func crc32c(hdr []byte, off int) uint32 {
	tab := crc32.MakeTable(crc32.Castagnoli) // built once by the package, then shared
	var zero [4]byte
	c := crc32.Update(0, tab, hdr[:off])
	c = crc32.Update(c, tab, zero[:])
	return crc32.Update(c, tab, hdr[off+4:])
}

// unixPath reads a sun_path: up to its first NUL, or an abstract name
// ("@name", Go's spelling) when it starts with one.
func unixPath(p []byte) string {
	if len(p) > 0 && p[0] == 0 {
		name := p[1:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 {
			return ""
		}
		return "@" + string(name)
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return string(p)
}

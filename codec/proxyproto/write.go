package proxyproto

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Append appends the header's wire form, in its Version, to dst.
//
// Version 1 writes "PROXY TCP4 ..." or "PROXY TCP6 ..." for a relayed TCP
// connection, and "PROXY UNKNOWN" for everything it cannot carry (UDP,
// unix sockets, an Unspec family, a Local command, which version 1 lacks).
// Version 2 writes a PROXY command with the address block of the family,
// or LOCAL / AF_UNSPEC with no addresses; it writes no TLVs.
//
// It fails with ErrInvalidHeader for a Version other than 1 and 2, a
// Command other than Local and Proxy, addresses that do not fit their
// Family, or a unix path longer than 108 bytes.
func (h *Header) Append(dst []byte) ([]byte, error) {
	if h.Command > Proxy {
		return dst, fmt.Errorf("%w: command %d", ErrInvalidHeader, h.Command)
	}
	if h.Family > UnixDatagram {
		return dst, fmt.Errorf("%w: %s", ErrInvalidHeader, h.Family)
	}
	if h.Command == Proxy && h.Family.isInet() {
		if err := h.checkInet(); err != nil {
			return dst, err
		}
	}
	switch h.Version {
	case 1:
		return h.appendV1(dst), nil
	case 2:
		return h.appendV2(dst)
	}
	return dst, fmt.Errorf("%w: version %d", ErrInvalidHeader, h.Version)
}

// checkInet checks that both addresses are of the Family's IP version.
func (h *Header) checkInet() error {
	s, d := h.Source.Addr(), h.Destination.Addr()
	v4 := h.Family == TCP4 || h.Family == UDP4
	ok := s.Zone() == "" && d.Zone() == ""
	if v4 {
		ok = ok && s.Is4() && d.Is4()
	} else {
		ok = ok && s.Is6() && d.Is6()
	}
	if !ok {
		return fmt.Errorf("%w: %s with addresses %s and %s", ErrInvalidHeader, h.Family, h.Source, h.Destination)
	}
	return nil
}

func (h *Header) appendV1(dst []byte) []byte {
	if h.Command != Proxy || (h.Family != TCP4 && h.Family != TCP6) {
		return append(dst, "PROXY UNKNOWN\r\n"...)
	}
	dst = append(dst, v1Prefix...)
	dst = append(dst, h.Family.String()...)
	dst = append(dst, ' ')
	dst = h.Source.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = h.Destination.Addr().AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Destination.Port()), 10)
	return append(dst, '\r', '\n')
}

// v2Byte is the family-and-protocol byte of f.
func (f Family) v2Byte() byte {
	switch f {
	case TCP4:
		return 0x11
	case UDP4:
		return 0x12
	case TCP6:
		return 0x21
	case UDP6:
		return 0x22
	case UnixStream:
		return 0x31
	case UnixDatagram:
		return 0x32
	}
	return 0x00
}

func (h *Header) appendV2(dst []byte) ([]byte, error) {
	fam := h.Family
	if h.Command == Local {
		fam = Unspec
	}
	if fam.isUnix() && (len(h.SourcePath) > unixAddrLen || len(h.DestinationPath) > unixAddrLen) {
		return dst, fmt.Errorf("%w: unix path longer than %d bytes", ErrInvalidHeader, unixAddrLen)
	}
	dst = append(dst, v2Signature...)
	dst = append(dst, 0x20|byte(h.Command), fam.v2Byte())
	switch fam {
	case TCP4, UDP4:
		dst = binary.BigEndian.AppendUint16(dst, 12)
		s, d := h.Source.Addr().As4(), h.Destination.Addr().As4()
		dst = append(append(dst, s[:]...), d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Destination.Port())
	case TCP6, UDP6:
		dst = binary.BigEndian.AppendUint16(dst, 36)
		s, d := h.Source.Addr().As16(), h.Destination.Addr().As16()
		dst = append(append(dst, s[:]...), d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Source.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Destination.Port())
	case UnixStream, UnixDatagram:
		dst = binary.BigEndian.AppendUint16(dst, 2*unixAddrLen)
		dst = appendUnixPath(dst, h.SourcePath)
		dst = appendUnixPath(dst, h.DestinationPath)
	default:
		dst = binary.BigEndian.AppendUint16(dst, 0)
	}
	return dst, nil
}

// appendUnixPath appends path as a 108-byte sun_path, NUL-padded; an
// abstract name ("@name") starts with a NUL.
func appendUnixPath(dst []byte, path string) []byte {
	start := len(dst)
	if len(path) > 0 && path[0] == '@' {
		dst = append(dst, 0)
		path = path[1:]
	}
	dst = append(dst, path[:min(len(path), unixAddrLen-(len(dst)-start))]...)
	for len(dst)-start < unixAddrLen {
		dst = append(dst, 0)
	}
	return dst
}

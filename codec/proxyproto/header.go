package proxyproto

import (
	"fmt"
	"net"
	"net/netip"
)

// Command is what a header says about its connection: relayed for a client
// (Proxy) or opened by the sender itself (Local).
type Command uint8

const (
	// Local marks a connection the sender opened on its own behalf, a
	// health check say (version 2 only): the receiver keeps the socket's
	// own addresses and ignores any in the header.
	Local Command = 0
	// Proxy marks a connection relayed for a client whose addresses the
	// header carries (unless its Family is Unspec).
	Proxy Command = 1
)

// Family is the transport and address family of the relayed connection.
type Family uint8

const (
	// Unspec is an unknown or unsupported family: version 1's UNKNOWN, or
	// version 2's AF_UNSPEC. The receiver keeps the socket's own addresses.
	Unspec Family = iota
	// TCP4 is TCP over IPv4.
	TCP4
	// TCP6 is TCP over IPv6.
	TCP6
	// UDP4 is UDP over IPv4 (version 2 only).
	UDP4
	// UDP6 is UDP over IPv6 (version 2 only).
	UDP6
	// UnixStream is a unix stream socket (version 2 only).
	UnixStream
	// UnixDatagram is a unix datagram socket (version 2 only).
	UnixDatagram
)

// String returns the family's name as version 1 spells TCP4 and TCP6.
func (f Family) String() string {
	switch f {
	case Unspec:
		return "UNSPEC"
	case TCP4:
		return "TCP4"
	case TCP6:
		return "TCP6"
	case UDP4:
		return "UDP4"
	case UDP6:
		return "UDP6"
	case UnixStream:
		return "UNIX"
	case UnixDatagram:
		return "UNIXGRAM"
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

// isInet reports whether f carries IP addresses and ports.
func (f Family) isInet() bool { return f >= TCP4 && f <= UDP6 }

// isUnix reports whether f carries unix socket paths.
func (f Family) isUnix() bool { return f == UnixStream || f == UnixDatagram }

// Header is one PROXY protocol header: what Parse returns and what Append
// writes. For an inet family Source and Destination hold the addresses and
// ports; for a unix family SourcePath and DestinationPath hold the paths.
type Header struct {
	Version         int            // 1 or 2
	Command         Command        // Proxy, or Local (version 2 only)
	Family          Family         // Unspec when the addresses are not known
	Source          netip.AddrPort // the client, for TCP and UDP families
	Destination     netip.AddrPort // the address the client connected to
	SourcePath      string         // the client's path, for unix families
	DestinationPath string         // the path the client connected to
}

// Relayed reports whether the header carries the client's addresses: a
// Proxy command with a known family. When it is false (version 2 LOCAL,
// version 1 UNKNOWN, AF_UNSPEC) the receiver keeps the socket's own
// addresses, as the spec asks for health checks from a balancer.
func (h *Header) Relayed() bool { return h.Command == Proxy && h.Family != Unspec }

// Addrs returns the header's source and destination as net.Addr (a
// *net.TCPAddr, *net.UDPAddr or *net.UnixAddr), or two nils when the
// header is not Relayed.
func (h *Header) Addrs() (src, dst net.Addr) {
	if !h.Relayed() {
		return nil, nil
	}
	switch h.Family {
	case TCP4, TCP6:
		return net.TCPAddrFromAddrPort(h.Source), net.TCPAddrFromAddrPort(h.Destination)
	case UDP4, UDP6:
		return net.UDPAddrFromAddrPort(h.Source), net.UDPAddrFromAddrPort(h.Destination)
	case UnixDatagram:
		return &net.UnixAddr{Name: h.SourcePath, Net: "unixgram"}, &net.UnixAddr{Name: h.DestinationPath, Net: "unixgram"}
	default:
		return &net.UnixAddr{Name: h.SourcePath, Net: "unix"}, &net.UnixAddr{Name: h.DestinationPath, Net: "unix"}
	}
}

// String describes the header for logs.
func (h Header) String() string {
	switch {
	case h.Command == Local:
		return fmt.Sprintf("PROXYv%d LOCAL", h.Version)
	case h.Family == Unspec:
		return fmt.Sprintf("PROXYv%d UNKNOWN", h.Version)
	case h.Family.isUnix():
		return fmt.Sprintf("PROXYv%d %s %q -> %q", h.Version, h.Family, h.SourcePath, h.DestinationPath)
	default:
		return fmt.Sprintf("PROXYv%d %s %s -> %s", h.Version, h.Family, h.Source, h.Destination)
	}
}

// FromAddrs returns the version's header for a connection relayed from src
// (the client's address, its RemoteAddr) that arrived at dst (its
// LocalAddr). TCP, UDP and unix addresses are carried; an IPv4 address
// mapped into IPv6 is sent as IPv4 when both are, and an IPv4 address
// beside an IPv6 one is sent mapped. Anything else (nil, two kinds of
// address) gives a Proxy header of family Unspec, which the receiver reads
// as "use the socket's addresses" (version 1's UNKNOWN).
func FromAddrs(version int, src, dst net.Addr) Header {
	h := Header{Version: version, Command: Proxy}
	switch s := src.(type) {
	case *net.TCPAddr:
		if d, ok := dst.(*net.TCPAddr); ok {
			h.Family, h.Source, h.Destination = inetFamily(TCP4, s.AddrPort(), d.AddrPort())
		}
	case *net.UDPAddr:
		if d, ok := dst.(*net.UDPAddr); ok {
			h.Family, h.Source, h.Destination = inetFamily(UDP4, s.AddrPort(), d.AddrPort())
		}
	case *net.UnixAddr:
		if d, ok := dst.(*net.UnixAddr); ok {
			h.Family = UnixStream
			if s.Net == "unixgram" {
				h.Family = UnixDatagram
			}
			h.SourcePath, h.DestinationPath = s.Name, d.Name
		}
	}
	return h
}

// inetFamily picks v4 (TCP4 or UDP4) or its v6 sibling for the pair s, d
// and returns them in that family's form.
func inetFamily(v4 Family, s, d netip.AddrPort) (Family, netip.AddrPort, netip.AddrPort) {
	if !s.Addr().IsValid() || !d.Addr().IsValid() {
		return Unspec, netip.AddrPort{}, netip.AddrPort{}
	}
	sa, da := s.Addr().WithZone(""), d.Addr().WithZone("")
	if sa.Unmap().Is4() && da.Unmap().Is4() {
		return v4, netip.AddrPortFrom(sa.Unmap(), s.Port()), netip.AddrPortFrom(da.Unmap(), d.Port())
	}
	return v4 + 1, netip.AddrPortFrom(netip.AddrFrom16(sa.As16()), s.Port()), netip.AddrPortFrom(netip.AddrFrom16(da.As16()), d.Port())
}

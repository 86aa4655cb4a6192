package engine

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsgHdrLen is the aligned size of a control message header.
var cmsgHdrLen = unix.CmsgLen(0)

// parseCmsgs reads the control messages the kernel attached to one
// datagram. It allocates nothing (unix.ParseSocketControlMessage does) and
// stops at the first header that does not fit: the kernel writes well-formed
// messages, but a cut buffer (MSG_CTRUNC) must not be read past its end.
func parseCmsgs(oob []byte) rxInfo {
	var info rxInfo
	for len(oob) >= cmsgHdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < cmsgHdrLen || n > len(oob) {
			break
		}
		data := oob[cmsgHdrLen:n]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			info.dst, info.ifindex = netip.AddrFrom4(pi.Addr), pi.Ifindex
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			info.dst, info.ifindex = netip.AddrFrom16(pi.Addr).Unmap(), int32(pi.Ifindex)
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			info.ovfl, info.hasOvfl = binary.NativeEndian.Uint32(data), true
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 2:
			// The kernel writes an int; a uint16 read of either half
			// would be wrong on big-endian, so read what fits.
			if len(data) >= 4 {
				info.seg = int(binary.NativeEndian.Uint32(data))
			} else {
				info.seg = int(binary.NativeEndian.Uint16(data))
			}
		}
		space := unix.CmsgSpace(n - cmsgHdrLen)
		if space > len(oob) {
			break
		}
		oob = oob[space:]
	}
	return info
}

// putCmsg writes one control message with room for datalen bytes at the
// start of b and returns its data part and the space it took. b must hold
// unix.CmsgSpace(datalen) bytes.
func putCmsg(b []byte, level, typ int32, datalen int) (data []byte, space int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(datalen))
	space = unix.CmsgSpace(datalen)
	clear(b[cmsgHdrLen:space])
	return b[cmsgHdrLen : cmsgHdrLen+datalen], space
}

package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/shardnet/shardnet/internal/rawio"
	"golang.org/x/sys/unix"
)

// The datagram system calls: opening UDP sockets with the options the
// engine reads back in control messages, and the batches recvmmsg and
// sendmmsg work on.

// oobSize is the control-message room of one batch slot: a v6 packet
// info (40), the drop counter (24) and the GRO segment size (24) on
// receive; a packet info and a GSO segment size (24) on send.
const oobSize = 128

// packetSocket opens a non-blocking UDP socket bound to address, with
// SO_REUSEPORT when reusePort is set, and reports whether it is an AF_INET6
// socket (Go's net package makes wildcard "udp" sockets dual-stack v6 ones).
// Go's net package resolves and binds it (so ":0" and host names work as in
// net.ListenPacket); the engine keeps a dup of the fd.
func packetSocket(network, address string, reusePort bool) (int, netip.AddrPort, bool, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt", serr)
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, address)
	if err != nil {
		return -1, netip.AddrPort{}, false, err
	}
	defer pc.Close()
	uc := pc.(*net.UDPConn)
	f, err := uc.File()
	if err != nil {
		return -1, netip.AddrPort{}, false, err
	}
	fd, err := dupFd(f.Fd())
	f.Close()
	if err != nil {
		return -1, netip.AddrPort{}, false, err
	}
	if err := setNonblock(fd); err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, false, err
	}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, false, os.NewSyscallError("getsockopt", err)
	}
	return fd, uc.LocalAddr().(*net.UDPAddr).AddrPort(), domain == unix.AF_INET6, nil
}

// packetDialSocket opens a non-blocking UDP socket connected to to. A UDP
// connect only sets the default peer and picks the source address: it
// does not block.
func packetDialSocket(to netip.AddrPort) (int, netip.AddrPort, error) {
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	family := unix.AF_INET
	if to.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, os.NewSyscallError("socket", err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		// A link-local peer's zone names the link (sockaddrOf, for TCP,
		// has no use for it).
		sa = &unix.SockaddrInet6{Addr: to.Addr().As16(), Port: int(to.Port()), ZoneId: zoneIndex(to.Addr().Zone())}
	} else {
		sa = &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("connect", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	return fd, addrPortOf(local), nil
}

// socketFeatures is what setupPacketSocket could turn on.
type socketFeatures struct {
	gso, gro bool
}

// setupPacketSocket asks for what the receive path reads in control
// messages: the datagram's destination on a wildcard bind, the kernel's
// drop counter, and GRO; and probes GSO. None of them is needed for the
// socket to work, so a failure only leaves the feature off.
func setupPacketSocket(fd int, v6, wildcard bool, cfg *config) socketFeatures {
	if wildcard {
		if v6 {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		}
		// On a dual-stack v6 socket, v4 datagrams carry IP_PKTINFO.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	if cfg.sndBuf > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.sndBuf)
	}
	if cfg.rcvBuf > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.rcvBuf)
	}
	var f socketFeatures
	if cfg.udpGRO {
		f.gro = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	}
	if cfg.udpGSO {
		// The option exists only where the kernel can segment (4.18+).
		_, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		f.gso = err == nil
	}
	return f
}

// isGSOError reports whether the error of a send that carried several
// datagrams as one UDP_SEGMENT message means the kernel or the route
// cannot segment it, so GSO must be switched off: EIO from a device
// without checksum offload before Linux 6.11 (as quic-go found), EMSGSIZE
// (EINVAL before Linux 6.5) when a segment does not fit the route's MTU.
func isGSOError(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EMSGSIZE)
}

// isAgain reports the would-block error of a non-blocking socket.
func isAgain(err error) bool { return err == unix.EAGAIN }

// maxDatagram is the largest UDP payload: 65,535 minus the IP and UDP
// headers (IPv4's 20 + 8; IPv6 has no header in its payload length).
func maxDatagram(v6 bool) int {
	if v6 {
		return 65535 - 8
	}
	return 65535 - 28
}

// recvBatch is a shard's receive batch: slots buffers, their names and
// control buffers, and the headers recvmmsg fills. One per shard, shared by
// the shard's datagram sockets (one callback runs at a time).
type recvBatch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // the largest of the two families
	oob   []byte                  // oobSize per slot
	buf   []byte                  // size per slot
	size  int
	dirty int // headers [0, dirty) may hold what the kernel wrote back
}

func newRecvBatch(slots, size int) *recvBatch {
	b := &recvBatch{
		msgs:  make([]unix.Mmsghdr, slots),
		iovs:  make([]unix.Iovec, slots),
		names: make([]unix.RawSockaddrInet6, slots),
		oob:   make([]byte, slots*oobSize),
		buf:   make([]byte, slots*size),
		size:  size,
	}
	for i := range b.msgs {
		b.iovs[i].Base = &b.buf[i*size]
		b.iovs[i].SetLen(size)
		h := &b.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.oob[i*oobSize]
		h.Namelen = uint32(unsafe.Sizeof(b.names[0]))
		h.SetControllen(oobSize)
	}
	return b
}

func (b *recvBatch) slots() int { return len(b.msgs) }

// recv fills up to every slot from fd and returns how many it filled.
// The kernel writes back the name and control lengths of the slots it
// fills and of no other (and sets the flags afresh), so only those are
// set again: a socket that gets one datagram per wake-up touches one
// header, not the whole batch.
func (b *recvBatch) recv(fd int) (int, error) {
	for i := range b.dirty {
		h := &b.msgs[i].Hdr
		h.Namelen = uint32(unsafe.Sizeof(b.names[0]))
		h.SetControllen(oobSize)
	}
	n, err := rawio.Recvmmsg(fd, b.msgs, unix.MSG_DONTWAIT)
	b.dirty = n
	if err != nil {
		b.dirty = len(b.msgs) // which slots a failed call wrote is not ours to know
	}
	return n, err
}

// slot returns datagram i of the last recv: its bytes (valid until the next
// recv), its sender (v4-mapped addresses unmapped), whether the kernel cut
// it (MSG_TRUNC), and what its control messages said.
func (b *recvBatch) slot(i int) (p []byte, from netip.AddrPort, trunc bool, info rxInfo) {
	m := &b.msgs[i]
	n := int(m.Len)
	p = b.buf[i*b.size : i*b.size+min(n, b.size)]
	from = inetAddrPort(&b.names[i])
	trunc = m.Hdr.Flags&unix.MSG_TRUNC != 0
	if cl := int(m.Hdr.Controllen); cl > 0 {
		info = parseCmsgs(b.oob[i*oobSize : i*oobSize+min(cl, oobSize)])
	}
	return p, from, trunc, info
}

// sendBatch is a shard's scratch for sendmmsg: up to cap(msgs) datagrams,
// each one iovec over bytes the caller keeps alive until send returns.
type sendBatch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
	n     int
}

func newSendBatch(slots int) *sendBatch {
	b := &sendBatch{
		msgs:  make([]unix.Mmsghdr, slots),
		iovs:  make([]unix.Iovec, slots),
		names: make([]unix.RawSockaddrInet6, slots),
		oob:   make([]byte, slots*oobSize),
	}
	for i := range b.msgs {
		h := &b.msgs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	return b
}

func (b *sendBatch) reset()     { b.n = 0 }
func (b *sendBatch) full() bool { return b.n == len(b.msgs) }

// add appends one message: p to to (no address on a connected socket),
// from src on ifindex when src is valid, cut by the kernel into seg-byte
// datagrams when seg > 0 (GSO). A v6 socket sends to v4 peers through
// v4-mapped addresses.
func (b *sendBatch) add(p []byte, to netip.AddrPort, v6, connected bool, src netip.Addr, ifindex int32, seg int) {
	i := b.n
	b.n++
	if len(p) > 0 {
		b.iovs[i].Base = &p[0]
	} else {
		b.iovs[i].Base = nil
	}
	b.iovs[i].SetLen(len(p))
	h := &b.msgs[i].Hdr
	h.Name, h.Namelen = nil, 0
	if !connected {
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = putSockaddr(&b.names[i], to, v6)
	}
	oob := b.oob[i*oobSize : (i+1)*oobSize]
	used := 0
	if src.IsValid() {
		if src.Is4() {
			data, sp := putCmsg(oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			pi.Spec_dst = src.As4()
			pi.Ifindex = ifindex
			used += sp
		} else {
			data, sp := putCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			pi.Addr = src.As16()
			pi.Ifindex = uint32(ifindex)
			used += sp
		}
	}
	if seg > 0 {
		data, sp := putCmsg(oob[used:], unix.IPPROTO_UDP, unix.UDP_SEGMENT, 2)
		*(*uint16)(unsafe.Pointer(&data[0])) = uint16(seg)
		used += sp
	}
	h.Control = nil
	if used > 0 {
		h.Control = &oob[0]
	}
	h.SetControllen(used)
}

// send hands messages [from, n) to the kernel and returns how many left.
// A lone message goes with sendmsg: sendmmsg would walk a vector of one
// and write its length back.
func (b *sendBatch) send(fd, from int) (int, error) {
	if b.n-from == 1 {
		if _, err := rawio.Sendmsg(fd, &b.msgs[from].Hdr, unix.MSG_DONTWAIT); err != nil {
			return 0, err
		}
		return 1, nil
	}
	return rawio.Sendmmsg(fd, b.msgs[from:b.n], unix.MSG_DONTWAIT)
}

// inetAddrPort reads an IPv4 or IPv6 raw address held in room for the
// larger one, v4-mapped addresses unmapped, without allocating (rawAddrPort
// wants a whole RawSockaddrAny behind the pointer).
func inetAddrPort(rsa *unix.RawSockaddrInet6) netip.AddrPort {
	switch rsa.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&rsa.Port))
		a := netip.AddrFrom16(rsa.Addr).Unmap()
		if rsa.Scope_id != 0 && a.Is6() {
			// A link-local peer: the zone is the interface's index, so a
			// reply finds its way back. Small numbers format without
			// allocating, and the zone is interned after the first.
			a = a.WithZone(strconv.FormatUint(uint64(rsa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// zoneIndex is the interface index an IPv6 zone names: a number as
// inetAddrPort writes them, or an interface name (looked up, which
// allocates: a name comes from the caller, not from the hot path).
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// putSockaddr writes ap as a raw socket address of the socket's family
// (v4 peers of a v6 socket as v4-mapped) and returns its length.
func putSockaddr(rsa *unix.RawSockaddrInet6, ap netip.AddrPort, v6 bool) uint32 {
	port := ap.Port()
	if !v6 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().Unmap().As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	*rsa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16(), Scope_id: zoneIndex(ap.Addr().Zone())}
	p := (*[2]byte)(unsafe.Pointer(&rsa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

package engine

import (
	"net"
	"net/netip"
	"time"
	"unsafe"

	"github.com/shardnet/shardnet/internal/rawio"
	"golang.org/x/sys/unix"
)

// rawRead and rawWrite are the shard's reads and writes; see package
// rawio for why they skip the scheduler.
func rawRead(fd int, p []byte) (int, error) { return rawio.Read(fd, p) }

func rawWrite(fd int, p []byte) (int, error) { return rawio.Write(fd, p) }

// rawAccept takes one pending connection from the non-blocking listener
// lfd, and the peer's address for the balancer. It allocates nothing:
// unix.Accept4 allocates the raw address and a Sockaddr on every call,
// which on a burst of accepts is most of the garbage the engine makes. The
// address is zero for unix-domain peers.
func rawAccept(lfd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	fd, err := rawio.Accept4(lfd, &rsa, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	return fd, rawAddrPort(&rsa), nil
}

// rawAddrPort reads an IPv4 or IPv6 socket address; ports are stored in
// network byte order.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// rawWritev sends bufs with one writev, or one write when there is one
// buffer. iov is the shard's scratch array.
func rawWritev(fd int, bufs [][]byte, iov *[]unix.Iovec) (int, error) {
	if len(bufs) == 1 {
		return rawWrite(fd, bufs[0])
	}
	v := (*iov)[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		var e unix.Iovec
		e.Base = &b[0]
		e.SetLen(len(b))
		v = append(v, e)
	}
	*iov = v
	return rawio.Writev(fd, v)
}

// sockName asks the kernel for the local or peer address of fd.
func sockName(fd int, isUnix, peer bool) net.Addr {
	var sa unix.Sockaddr
	var err error
	if peer {
		sa, err = unix.Getpeername(fd)
	} else {
		sa, err = unix.Getsockname(fd)
	}
	if err != nil {
		return nil
	}
	return sockaddrToAddr(sa)
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *unix.SockaddrInet6:
		addr := &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// setConnOptions applies the engine's socket options to a new TCP
// connection. Failures are not fatal: the connection works without them.
func (e *Engine) setConnOptions(fd int) {
	cfg := &e.cfg
	if cfg.noDelay {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if cfg.keepAlive > 0 {
		secs := int(max(cfg.keepAlive/time.Second, 1))
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 3)
	}
	if cfg.userTimeout > 0 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(cfg.userTimeout/time.Millisecond))
	}
	if cfg.sndBuf > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.sndBuf)
	}
	if cfg.rcvBuf > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.rcvBuf)
	}
}

package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardnet/shardnet/internal/rawio"
)

// The socket calls the engine makes outside the hot path. Errors come back
// wrapped once, here, with the call's name.

// platformErr is nil where the engine runs.
func platformErr() error { return nil }

// threadID is the calling OS thread's ID.
func threadID() int64 { return int64(unix.Gettid()) }

// closeFd is a raw close(2) (rawio.Close): a shard closes two sockets per
// relayed connection, and the scheduler's syscall entry on each would let
// sysmon see the shard's P in a system call and keep waking every 20 µs.
func closeFd(fd int) { _ = rawio.Close(fd) }

// shutdownWrite sends the FIN after what the socket holds. A peer that is
// already gone (ENOTCONN) is not an error: there is nobody to tell. Raw,
// as closeFd: a relay passes half-closes on from its shard.
func shutdownWrite(fd int) error {
	if err := rawio.Shutdown(fd, unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		return os.NewSyscallError("shutdown", err)
	}
	return nil
}

// setLingerZero makes the next close send a reset and drop what is queued.
func setLingerZero(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// setConnOptions applies the engine's socket options to a new TCP
// connection. Failures are not fatal: the connection works without them.
func setConnOptions(fd int, cfg *config) {
	if cfg.noDelay {
		// Raw, as closeFd: every connection sets it, on the shard.
		_ = rawio.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
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

// sockName asks the kernel for the local or peer address of fd. An IP
// address is read from the raw address in place (netAddrOfRaw), so that
// the only allocations are the net.Addr the caller keeps: an adapter asks
// for both of every accepted connection's, and x/sys's garbage (a raw
// address and a Sockaddr each, about 290 bytes per connection) fragmented
// the heap that the idle connections' long-lived objects share.
func sockName(fd int, peer bool) net.Addr {
	var rsa unix.RawSockaddrAny
	if rawio.Sockname(fd, &rsa, peer) == nil {
		if a := netAddrOfRaw(&rsa); a != nil {
			return a
		}
	}
	// A unix-domain or zoned IPv6 address: x/sys decodes it.
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
	return netAddrOf(sa)
}

// peerAddrPort is the peer's IP address and port, or the zero AddrPort.
func peerAddrPort(fd int) netip.AddrPort {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return netip.AddrPort{}
	}
	return addrPortOf(sa)
}

// listenSocket opens a non-blocking listening socket. Go's net package
// resolves and binds it; the engine keeps a dup of the fd and closes Go's
// listener, so Go's poller never watches it.
func listenSocket(network, address string, reusePort bool) (int, net.Addr, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt", serr)
		}
	}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return -1, nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the engine removes the path at Stop
	}
	defer ln.Close()
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return -1, nil, fmt.Errorf("engine: listener %T has no file", ln)
	}
	f, err := fl.File()
	if err != nil {
		return -1, nil, err
	}
	fd, err := dupFd(f.Fd())
	f.Close()
	if err != nil {
		return -1, nil, err
	}
	if err := setNonblock(fd); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, ln.Addr(), nil
}

// openSpare opens the fd an acceptor keeps in reserve for EMFILE.
func openSpare() (int, error) {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("open", err)
	}
	return fd, nil
}

// acceptAndClose takes one pending connection from lfd and closes it; it
// reports whether there was one.
func acceptAndClose(lfd int) bool {
	fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// dupFd duplicates fd, close-on-exec.
func dupFd(fd uintptr) (int, error) {
	dup, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("fcntl", err)
	}
	return dup, nil
}

func setNonblock(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	return nil
}

// connectStart opens a non-blocking socket to the unix socket at path, or
// to ap when path is empty, sets the engine's options on a TCP one, and
// starts the connect. pending says the connect goes on in the background
// (watch fd for writability, then ask connectResult). On error the socket
// is closed.
func connectStart(ap netip.AddrPort, path string, cfg *config) (fd int, pending bool, err error) {
	family := unix.AF_UNIX
	if path == "" {
		family = unix.AF_INET
		if !ap.Addr().Unmap().Is4() {
			family = unix.AF_INET6
		}
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	if path == "" {
		setConnOptions(fd, cfg)
		// Raw, and from an address on the stack: a TCP connect on a
		// non-blocking socket returns at once (see closeFd).
		err = rawio.ConnectInet(fd, ap)
	} else {
		err = unix.Connect(fd, sockaddrOf(ap, path))
	}
	switch err {
	case nil:
		return fd, false, nil
	case unix.EINPROGRESS, unix.EINTR:
		return fd, true, nil
	}
	closeFd(fd)
	return -1, false, os.NewSyscallError("connect", err)
}

// connectResult is how a background connect on fd ended.
func connectResult(fd int) error {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = syscall.Errno(soerr)
	}
	if err != nil {
		return os.NewSyscallError("connect", err)
	}
	return nil
}

package engine

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// listeningSocket checks that fd is a listening stream socket and returns
// the address it is bound to and whether SO_REUSEPORT is set on it.
func listeningSocket(fd int) (net.Addr, bool, error) {
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		if err == unix.ENOTSOCK {
			return nil, false, fmt.Errorf("%w: not a socket", ErrNotListener)
		}
		return nil, false, wrapSyscall("getsockopt", err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, false, wrapSyscall("getsockopt", err)
	}
	if typ != unix.SOCK_STREAM || acc != 1 {
		return nil, false, fmt.Errorf("%w: a socket of type %d, listening=%v", ErrNotListener, typ, acc == 1)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, false, wrapSyscall("getsockname", err)
	}
	addr := netAddrOf(sa)
	if addr == nil {
		return nil, false, fmt.Errorf("%w: address family %T", ErrNotListener, sa)
	}
	rp, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT)
	return addr, err == nil && rp == 1, nil
}

package rawio

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ignoringEINTR runs a raw system call that cannot block until it returns
// something other than EINTR, and gives back its result or its errno.
func ignoringEINTR(trap, a1, a2, a3, a4, a5, a6 uintptr) (int, error) {
	for {
		r, _, errno := unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(r), nil
	}
}

// Read is read(2) on a non-blocking fd. An empty p reads nothing and
// returns 0, nil without a system call.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return ignoringEINTR(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
}

// Write is write(2) on a non-blocking fd. An empty p writes nothing and
// returns 0, nil without a system call.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return ignoringEINTR(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
}

// Writev is writev(2) on a non-blocking fd. An empty iov writes nothing
// and returns 0, nil without a system call.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	return ignoringEINTR(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), 0, 0, 0)
}

// Accept4 is accept4(2) on a non-blocking listener. The peer's address is
// written to rsa (which may be nil); unix.Accept4 would allocate a raw
// address and a Sockaddr on every call instead.
func Accept4(lfd int, rsa *unix.RawSockaddrAny, flags int) (int, error) {
	if rsa == nil {
		return ignoringEINTR(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, uintptr(flags), 0, 0)
	}
	size := uint32(unsafe.Sizeof(*rsa))
	return ignoringEINTR(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&size)), uintptr(flags), 0, 0)
}

// Sockname is getsockname(2), or getpeername(2) when peer is set: fd's
// local or peer address, written to rsa. unix.Getsockname and
// unix.Getpeername would allocate a raw address and a Sockaddr on every
// call instead.
func Sockname(fd int, rsa *unix.RawSockaddrAny, peer bool) error {
	trap := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		trap = unix.SYS_GETPEERNAME
	}
	size := uint32(unsafe.Sizeof(*rsa))
	_, err := ignoringEINTR(trap, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&size)), 0, 0, 0)
	return err
}

// Splice is splice(2) without offsets. Both fds must be non-blocking (or
// flags must hold SPLICE_F_NONBLOCK and the pipe end be non-blocking), so
// that the call cannot block.
func Splice(in, out, n int, flags int) (int, error) {
	return ignoringEINTR(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), uintptr(flags))
}

// Close is close(2), made once: after EINTR the fd is already released on
// Linux, so a retry could close an fd another goroutine has just opened.
// It does not block on the engine's sockets (none has a positive
// SO_LINGER), pipes or epoll fds.
func Close(fd int) error {
	if _, _, errno := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// SetsockoptInt is setsockopt(2) with an int value.
func SetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, err := ignoringEINTR(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	return err
}

// ConnectInet starts connect(2) on a non-blocking socket to ap, from an
// address built on the stack (unix.Connect takes a Sockaddr, which
// escapes). It is made once: a non-blocking connect that reports EINTR
// goes on in the background, as after EINPROGRESS, and a second call would
// only say EALREADY.
func ConnectInet(fd int, ap netip.AddrPort) error {
	var errno unix.Errno
	a := ap.Addr().Unmap()
	port := ap.Port()
	if a.Is4() {
		sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	} else {
		sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// Shutdown is shutdown(2), which does not block.
func Shutdown(fd, how int) error {
	_, err := ignoringEINTR(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0, 0, 0, 0)
	return err
}

package rawio

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// listenLoopback is a listening socket on an ephemeral loopback port.
func listenLoopback(t *testing.T, family int, sa unix.Sockaddr) (int, netip.AddrPort) {
	t.Helper()
	lfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no socket for family %d: %v", family, err)
	}
	t.Cleanup(func() { unix.Close(lfd) })
	if err := unix.Bind(lfd, sa); err != nil {
		t.Skipf("no loopback for family %d: %v", family, err)
	}
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	got, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return lfd, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return lfd, netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	t.Fatalf("Getsockname: %T", got)
	return 0, netip.AddrPort{}
}

// TestConnectSetsockoptShutdownClose runs the raw socket calls a relay
// makes per backend connection on both address families, and checks each
// through the kernel's view (x/sys): the connect reaches the listener with
// the right port, the option is set, the half-close is seen by the peer,
// and the closed fd is gone.
func TestConnectSetsockoptShutdownClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family int
		bind   unix.Sockaddr
		dialAs func(netip.AddrPort) netip.AddrPort
	}{
		{"ipv4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, func(a netip.AddrPort) netip.AddrPort { return a }},
		{"ipv4-mapped", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, func(a netip.AddrPort) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
		}},
		{"ipv6", unix.AF_INET6, &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}, func(a netip.AddrPort) netip.AddrPort { return a }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lfd, ap := listenLoopback(t, tc.family, tc.bind)
			fd, err := unix.Socket(tc.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
				t.Fatalf("SetsockoptInt: %v", err)
			}
			if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v == 0 {
				t.Fatalf("TCP_NODELAY after SetsockoptInt: %d, %v", v, err)
			}
			if err := ConnectInet(fd, tc.dialAs(ap)); err != nil && err != unix.EINPROGRESS {
				t.Fatalf("ConnectInet: %v", err)
			}
			nfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC) // blocking: the handshake completes in the kernel
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			defer unix.Close(nfd)
			remote, err := unix.Getpeername(nfd)
			if err != nil {
				t.Fatal(err)
			}
			local, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			if portOf(remote) != portOf(local) {
				t.Fatalf("the listener's peer is port %d, the dialer's port %d", portOf(remote), portOf(local))
			}
			if err := Shutdown(fd, unix.SHUT_WR); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			buf := make([]byte, 8)
			if n, err := unix.Read(nfd, buf); n != 0 || err != nil {
				t.Fatalf("the peer's read after Shutdown: %d, %v; want EOF (0, nil)", n, err)
			}
			if err := Close(fd); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := Close(fd); err != unix.EBADF {
				t.Fatalf("Close of a closed fd: %v, want EBADF", err)
			}
		})
	}
}

// TestConnectRefused: a refused connect is the bare errno, which the
// engine's connectStart compares with ==.
func TestConnectRefused(t *testing.T) {
	lfd, ap := listenLoopback(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	unix.Close(lfd) // nothing listens on ap now
	// A blocking socket, so that the result comes back from the call.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	if err := ConnectInet(fd, ap); err != unix.ECONNREFUSED {
		t.Fatalf("ConnectInet to a closed port: %v (%T), want unix.ECONNREFUSED", err, err)
	}
}

func portOf(sa unix.Sockaddr) int {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return -1
}

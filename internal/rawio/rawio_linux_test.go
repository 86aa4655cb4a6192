package rawio

import (
	"bytes"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func iovecs(bs ...[]byte) []unix.Iovec {
	v := make([]unix.Iovec, len(bs))
	for i, b := range bs {
		v[i].Base = unsafe.SliceData(b)
		v[i].SetLen(len(b))
	}
	return v
}

func TestReadWriteWritev(t *testing.T) {
	a, b := socketPair(t)
	if n, err := Write(a, []byte("hello ")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := Writev(a, iovecs([]byte("wor"), []byte("ld"))); n != 5 || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	p := make([]byte, 64)
	n, err := Read(b, p)
	if err != nil || string(p[:n]) != "hello world" {
		t.Fatalf("Read = %q, %v", p[:n], err)
	}
	if _, err := Read(b, p); err != unix.EAGAIN {
		t.Fatalf("Read on an empty socket: %v, want EAGAIN", err)
	}
}

func TestEmptyCallsMakeNoSyscall(t *testing.T) {
	// fd -1 would fail with EBADF if a system call were made.
	tests := []struct {
		name string
		call func() (int, error)
	}{
		{"Read", func() (int, error) { return Read(-1, nil) }},
		{"Write", func() (int, error) { return Write(-1, nil) }},
		{"Writev", func() (int, error) { return Writev(-1, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := tc.call(); n != 0 || err != nil {
				t.Fatalf("got %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestErrnoIsBare(t *testing.T) {
	if _, err := Write(-1, []byte("x")); err != unix.EBADF {
		t.Fatalf("Write(-1) = %v (%T), want unix.EBADF", err, err)
	}
}

func TestAccept4(t *testing.T) {
	lfd, _ := listenLoopback(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err := unix.SetNonblock(lfd, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Accept4(lfd, nil, unix.SOCK_NONBLOCK); err != unix.EAGAIN {
		t.Fatalf("Accept4 with nothing pending: %v, want EAGAIN", err)
	}
	_, local := connectTo(t, lfd)
	var rsa unix.RawSockaddrAny
	var fd int
	var err error
	for i := 0; ; i++ {
		fd, err = Accept4(lfd, &rsa, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != unix.EAGAIN || i == 1000 {
			break
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, nil)
	}
	if err != nil {
		t.Fatalf("Accept4: %v", err)
	}
	defer unix.Close(fd)
	if rsa.Addr.Family != unix.AF_INET {
		t.Fatalf("family %d, want AF_INET", rsa.Addr.Family)
	}
	a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
	port := int(a.Port>>8 | a.Port<<8)
	if want := local.(*unix.SockaddrInet4).Port; port != want {
		t.Fatalf("peer port %d, want %d", port, want)
	}
}

// TestSockname: both ends of a loopback connection, as the kernel reports
// them through x/sys (which allocates), and without garbage.
func TestSockname(t *testing.T) {
	lfd, _ := listenLoopback(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	cfd, local := connectTo(t, lfd)
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		peer bool
		want *unix.SockaddrInet4
	}{
		{"getsockname", false, local.(*unix.SockaddrInet4)},
		{"getpeername", true, sa.(*unix.SockaddrInet4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rsa unix.RawSockaddrAny
			if err := Sockname(cfd, &rsa, tc.peer); err != nil {
				t.Fatal(err)
			}
			if rsa.Addr.Family != unix.AF_INET {
				t.Fatalf("family %d, want AF_INET", rsa.Addr.Family)
			}
			a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
			if port := int(a.Port>>8 | a.Port<<8); a.Addr != tc.want.Addr || port != tc.want.Port {
				t.Fatalf("%v:%d, want %v:%d", a.Addr, port, tc.want.Addr, tc.want.Port)
			}
			if n := testing.AllocsPerRun(100, func() { _ = Sockname(cfd, &rsa, tc.peer) }); n != 0 {
				t.Fatalf("%v allocations per call, want 0", n)
			}
		})
	}
	if err := Sockname(-1, new(unix.RawSockaddrAny), false); err != unix.EBADF {
		t.Fatalf("Sockname(-1) = %v, want EBADF", err)
	}
}

func TestSplice(t *testing.T) {
	a, b := socketPair(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	msg := []byte("through a pipe")
	if _, err := Write(a, msg); err != nil {
		t.Fatal(err)
	}
	n, err := Splice(b, p[1], 1<<16, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
	if err != nil || n != len(msg) {
		t.Fatalf("Splice = %d, %v", n, err)
	}
	got := make([]byte, 64)
	m, err := Read(p[0], got)
	if err != nil || !bytes.Equal(got[:m], msg) {
		t.Fatalf("pipe holds %q, %v", got[:m], err)
	}
}

// connectTo connects a blocking IPv4 socket to the listener lfd and
// returns it (closed at cleanup) with its local address.
func connectTo(t *testing.T, lfd int) (int, unix.Sockaddr) {
	t.Helper()
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(cfd) })
	if err := unix.Connect(cfd, sa); err != nil {
		t.Fatal(err)
	}
	local, err := unix.Getsockname(cfd)
	if err != nil {
		t.Fatal(err)
	}
	return cfd, local
}

package engine

import (
	"net"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSockName: sockName gives what x/sys's decoding gives (netAddrOf), for
// both ends of TCP over IPv4 and IPv6 and of a unix-domain socket, and for
// an IP address allocates only the net.Addr it returns (the TCPAddr and
// its IP).
func TestSockName(t *testing.T) {
	for _, tc := range []struct {
		name, network, addr string
		allocs              float64 // at most; 0: not checked
	}{
		{"tcp4", "tcp4", "127.0.0.1:0", 2},
		{"tcp6", "tcp6", "[::1]:0", 2},
		{"unix", "unix", filepath.Join(t.TempDir(), "s"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Skipf("no %s here: %v", tc.network, err)
			}
			defer ln.Close()
			c, err := net.Dial(tc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			raw, err := c.(syscall.Conn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			err = raw.Control(func(fd uintptr) {
				for _, peer := range []bool{false, true} {
					var want net.Addr
					if peer {
						sa, _ := unix.Getpeername(int(fd))
						want = netAddrOf(sa)
					} else {
						sa, _ := unix.Getsockname(int(fd))
						want = netAddrOf(sa)
					}
					if got := sockName(int(fd), peer); !reflect.DeepEqual(got, want) {
						t.Errorf("sockName(peer=%v) = %#v, want %#v", peer, got, want)
					}
					if tc.allocs > 0 {
						if n := testing.AllocsPerRun(50, func() { _ = sockName(int(fd), peer) }); n > tc.allocs {
							t.Errorf("sockName(peer=%v): %v allocations, want at most %v", peer, n, tc.allocs)
						}
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if a := sockName(-1, false); a != nil {
		t.Fatalf("sockName(-1) = %v, want nil", a)
	}
}

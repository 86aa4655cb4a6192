package fdcheck

import (
	"net"
	"os"
	"testing"
	"time"
)

// Count returns the number of open fds of this process.
func Count(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents) - 1 // the directory's own fd
}

// Baseline returns the fd count once the runtime's own fds (Go's netpoll
// epoll fd and its wake-up pipe) exist, so that they do not look like a
// leak: a loopback listen, dial and close makes them, if they are not
// there yet.
func Baseline(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
	}
	ln.Close()
	return Count(t)
}

// Check waits up to 3 s for the fd count to come back to base (closes done
// by other goroutines may be in flight) and fails the test, listing what
// is open, if it does not.
func Check(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	n := Count(t)
	for n > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = Count(t)
	}
	if n > base {
		ents, _ := os.ReadDir("/proc/self/fd")
		var names []string
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			names = append(names, e.Name()+"->"+l)
		}
		t.Errorf("fd leak: %d open, %d before; open: %v", n, base, names)
	}
}

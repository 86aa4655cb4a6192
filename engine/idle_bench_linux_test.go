package engine

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// idleMemConns is how many idle connections BenchmarkIdleConnMemory holds:
// both ends live in this process, so twice this many fds stay under the
// machine's 20,000 limit.
const idleMemConns = 4000

// BenchmarkIdleConnMemory reports the engine's live heap per idle
// connection (after a forced GC, so garbage and GC headroom are not
// counted) and the bytes allocated per accepted connection. The client
// sockets are raw fds, so they add nothing to the Go heap.
func BenchmarkIdleConnMemory(b *testing.B) {
	if b.N > 1 {
		b.Skip("one measurement per run; use -benchtime 1x -count N")
	}
	{
		e, addr := startEngine(b, echoHandler{}, WithShards(1))
		var before, after runtime.MemStats
		fds := make([]int, 0, idleMemConns)
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.Cleanup(func() { // before the engine's Stop: cleanups run last first
			for _, fd := range fds {
				unix.Close(fd)
			}
		})
		sa := loopbackSockaddr(b, addr)
		for range idleMemConns {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
			if err := unix.Connect(fd, sa); err != nil {
				b.Fatal(err)
			}
		}
		if !waitFor(10*time.Second, func() bool { return e.Stats().Shards[0].Conns == idleMemConns }) {
			b.Fatalf("engine holds %d connections, want %d", e.Stats().Shards[0].Conns, idleMemConns)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / idleMemConns
		perAccept := float64(after.TotalAlloc-before.TotalAlloc) / idleMemConns
		b.ReportMetric(live, "live-B/conn")
		b.ReportMetric(perAccept, "alloc-B/conn")
	}
}

// loopbackSockaddr parses a "127.0.0.1:port" address for unix.Connect.
func loopbackSockaddr(tb testing.TB, addr string) *unix.SockaddrInet4 {
	tb.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
}

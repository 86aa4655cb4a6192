package interop

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/netconn"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fdCount returns the number of open fds of this process.
func fdCount(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents) - 1
}

var warmOnce sync.Once

// fdBaseline returns the fd count once the runtime's own netpoll fds
// exist, so that they do not look like a leak.
func fdBaseline(t testing.TB) int {
	t.Helper()
	warmOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
		}
		ln.Close()
	})
	return fdCount(t)
}

// server is an engine serving a netconn.Listener on a loopback port, and
// a Dialer on the same engine.
type server struct {
	e    *engine.Engine
	ln   *netconn.Listener
	d    *netconn.Dialer
	addr string
}

// startServer starts one on addr ("tcp://127.0.0.1:0" or
// "tcp6://[::1]:0"). Cleanup closes the Listener, stops the engine and
// checks that no fd is left open.
func startServer(t testing.TB, addr string, opts ...netconn.Option) *server {
	t.Helper()
	base := fdBaseline(t)
	ln, e, err := netconn.Listen(addr, opts, engine.WithShards(2))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	d, err := netconn.NewDialer(e, opts...)
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for fdCount(t) > base && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := fdCount(t); n > base {
			t.Errorf("fd leak: %d open, %d before", n, base)
		}
	})
	return &server{e: e, ln: ln, d: d, addr: ln.Addr().String()}
}

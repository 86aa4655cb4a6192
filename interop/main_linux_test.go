package interop

import (
	"context"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/netconn"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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
	base := fdcheck.Baseline(t)
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
		fdcheck.Check(t, base)
	})
	return &server{e: e, ln: ln, d: d, addr: ln.Addr().String()}
}

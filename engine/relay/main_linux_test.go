package relay

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// No test may leave a goroutine behind: not a shard, not a backend.
	goleak.VerifyTestMain(m)
}

// spliceModes are the two relay paths most tests run through.
var spliceModes = []struct {
	name   string
	splice bool
}{
	{"copy", false},
	{"splice", true},
}

// proxyUnderTest is a Proxy serving a loopback port on its own engine.
type proxyUnderTest struct {
	px   *Proxy
	e    *engine.Engine
	addr string
}

// checkFds counts the open fds now and, when the test and all its other
// cleanups are done (call it first), checks that none is left open.
func checkFds(t *testing.T) {
	t.Helper()
	base := fdcheck.Baseline(t)
	t.Cleanup(func() { fdcheck.Check(t, base) })
}

// startProxy starts a Proxy with opts on two shards. Cleanup stops the
// engine (which must succeed within 10 s) and checks that no pair is
// left.
func startProxy(t testing.TB, opts ...Option) *proxyUnderTest {
	t.Helper()
	px, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e, err := engine.Serve(px, []string{"127.0.0.1:0"}, append([]engine.Option{engine.WithShards(2)}, px.EngineOptions()...)...)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if n := px.Stats().Active; n != 0 {
			t.Errorf("%d pairs still active after Stop", n)
		}
	})
	return &proxyUnderTest{px: px, e: e, addr: e.Addrs()[0].String()}
}

// mustPool is NewPool that fails the test on an error.
func mustPool(t testing.TB, addrs []string, opts ...PoolOption) *Pool {
	t.Helper()
	p, err := NewPool(addrs, opts...)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	return p
}

// testBackend is a plain net listener whose connections run serve, each in a
// goroutine; Cleanup closes the listener and every connection and waits
// for the goroutines.
type testBackend struct {
	ln    net.Listener
	addr  string
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startBackend(t testing.TB, serve func(c net.Conn)) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{ln: ln, addr: ln.Addr().String()}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(b.close)
	return b
}

// close stops accepting, closes every connection and waits for their
// goroutines. Safe to call twice.
func (b *testBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// copyPlain is io.Copy without the net package's splice (TCPConn's
// ReadFrom), whose pooled pipes outlive the test and look like a leak.
func copyPlain(dst io.Writer, src io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
}

// echo writes back what it reads and half-closes after the client's EOF.
func echo(c net.Conn) {
	defer c.Close()
	copyPlain(c, c)
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
}

// dial connects to addr with a 10 s deadline on everything.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// waitFor polls cond every 5 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startBenchBackend, startBenchProxy and mustBenchPool are the helpers
// above for benchmarks.
func startBenchBackend(b *testing.B) *testBackend                  { return startBackend(b, echo) }
func startBenchProxy(b *testing.B, opts ...Option) *proxyUnderTest { return startProxy(b, opts...) }
func mustBenchPool(b *testing.B, be *testBackend) *Pool            { return mustPool(b, []string{be.addr}) }

package netconn

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

// childEnv, when set, makes the test binary run as a client process
// instead of the tests (see runClients): the clients of a large test get
// their own process and fd limit.
const childEnv = "SHARDNET_NETCONN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runClients())
	}
	// No test may leave a goroutine behind: not a parked reader, not a
	// deadline timer, not a shard.
	goleak.VerifyTestMain(m)
}

// stress reports whether the heavy sizes are asked for (the Makefile's
// STRESS=1).
func stress() bool {
	return os.Getenv("STRESS") == "1" || os.Getenv("SHARDNET_STRESS") == "1"
}

// server is an engine serving a Listener on a loopback port, with a Dialer
// on the same engine.
type server struct {
	e    *engine.Engine
	ln   *Listener
	d    *Dialer
	addr string
}

// startServer starts one. Cleanup closes the Listener, stops the engine
// (which must succeed within 10 s) and checks that no fd is left.
func startServer(t testing.TB, opts []Option, eopts ...engine.Option) *server {
	t.Helper()
	base := fdcheck.Baseline(t)
	ln, e, err := Listen("tcp://127.0.0.1:0", opts, append([]engine.Option{engine.WithShards(2)}, eopts...)...)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	d, err := NewDialer(e, opts...)
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

// pair returns a connection made by s's Dialer and the Listener's side of
// it, both closed at cleanup.
func (s *server) pair(t testing.TB) (dialed, accepted *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dc, err := s.d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	ac, err := acceptT(t, s.ln)
	if err != nil {
		dc.Close()
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() {
		dc.Close()
		ac.Close()
	})
	return dc.(*Conn), ac.(*Conn)
}

// acceptT is Accept bounded by 5 s.
func acceptT(t testing.TB, ln net.Listener) (net.Conn, error) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(5 * time.Second):
		ln.Close() // frees the goroutine
		r := <-ch
		if r.c != nil {
			r.c.Close()
		}
		t.Fatal("Accept: nothing within 5 s")
		return nil, nil
	}
}

// plainPair dials s from a plain net.Conn and accepts the other end; both
// are closed when the test ends, before the server's own cleanup.
func (s *server) plainPair(t testing.TB) (peer, ac net.Conn) {
	t.Helper()
	peer, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if ac, err = acceptT(t, s.ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ac.Close() })
	return peer, ac
}

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/balancer"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"golang.org/x/sys/unix"
)

// closeEvent is one OnClose, seen from the test goroutine.
type closeEvent struct {
	id     uint64
	reason error
}

// recHandler echoes and reports opens and closes on channels, so tests can
// follow connections from outside their shards.
type recHandler struct {
	echoHandler
	opened chan *Conn
	closed chan closeEvent
}

func newRecHandler(n int) *recHandler {
	return &recHandler{opened: make(chan *Conn, n), closed: make(chan closeEvent, n)}
}

func (h *recHandler) OnOpen(c *Conn) error { h.opened <- c; return nil }
func (h *recHandler) OnClose(c *Conn, reason error) {
	h.closed <- closeEvent{c.ID(), reason}
}

func recvOpen(t *testing.T, h *recHandler) *Conn {
	t.Helper()
	select {
	case c := <-h.opened:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no OnOpen within 5 s")
		return nil
	}
}

func recvClose(t *testing.T, h *recHandler) closeEvent {
	t.Helper()
	select {
	case ev := <-h.closed:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose within 5 s")
		return closeEvent{}
	}
}

// TestConnLookup checks Engine.Conn from another goroutine: a live ID gives
// a handle that writes; a closed one is gone; IDs are never reused even
// though the kernel reuses fds.
func TestConnLookup(t *testing.T) {
	const conns = 200
	h := newRecHandler(conns)
	e, addr := startEngine(t, h, WithShards(2))
	seen := make(map[uint64]bool)
	for i := 0; i < conns; i++ {
		nc := dialT(t, "tcp", addr)
		c := recvOpen(t, h)
		if seen[c.ID()] {
			t.Fatalf("ID %#x given twice", c.ID())
		}
		seen[c.ID()] = true
		if got := int(c.ID() >> 48); got != c.Shard() {
			t.Fatalf("ID %#x: shard bits %d, Shard() %d", c.ID(), got, c.Shard())
		}
		if i%50 == 0 {
			hd, ok := e.Conn(c.ID())
			if !ok || hd.ID() != c.ID() {
				t.Fatalf("Conn(%#x) = %v, %v; want the live connection", c.ID(), hd.ID(), ok)
			}
			done := make(chan error, 1)
			if err := hd.AsyncWrite([]byte("hello"), func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("AsyncWrite done: %v", err)
			}
			buf := make([]byte, 5)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("read %q, %v; want hello", buf, err)
			}
		}
		nc.Close()
		ev := recvClose(t, h)
		if ev.id != c.ID() || !errors.Is(ev.reason, ErrPeerClosed) {
			t.Fatalf("close of %#x: %#x, %v; want ErrPeerClosed", c.ID(), ev.id, ev.reason)
		}
		if _, ok := e.Conn(c.ID()); ok {
			t.Fatalf("Conn(%#x) found after close", c.ID())
		}
	}
	if _, ok := e.Conn(1<<63 | 5); ok {
		t.Fatal("Conn of an ID past the shard count found")
	}
	var stale Handle
	if err := stale.AsyncWrite(nil, nil); !errors.Is(err, ErrUnknownConn) {
		t.Fatalf("zero Handle AsyncWrite: %v, want ErrUnknownConn", err)
	}
}

// TestAsyncWriteAfterClose checks that done runs exactly once, with an
// error, however the connection ended before the bytes could go.
func TestAsyncWriteAfterClose(t *testing.T) {
	tests := []struct {
		name string
		// end ends the connection on its shard; big is the size of the
		// AsyncWrite queued just before (large enough to stay queued when
		// the client does not read).
		// waitClosed waits for OnClose before the late AsyncWrite.
		end        func(c *Conn)
		big        int
		waitClosed bool
	}{
		// The client neither reads nor closes: Close lingers, and the
		// write lands on a closing connection.
		{name: "while closing", end: func(c *Conn) { c.Close() }},
		{name: "after Abort", end: func(c *Conn) { c.Abort() }, waitClosed: true},
		{name: "queued then Abort", end: func(c *Conn) { c.Abort() }, big: 32 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecHandler(4)
			e, addr := startEngine(t, h, WithShards(1))
			_ = dialT(t, "tcp", addr) // never reads
			c := recvOpen(t, h)
			hd, _ := e.Conn(c.ID())
			var calls atomic.Int32
			errc := make(chan error, 4)
			done := func(err error) { calls.Add(1); errc <- err }
			if tc.big > 0 {
				if err := c.AsyncWrite(make([]byte, tc.big), done); err != nil {
					t.Fatal(err)
				}
				// Let the shard try to send it, so it sits in the chain.
				time.Sleep(50 * time.Millisecond)
			}
			if err := hd.Do(tc.end); err != nil {
				t.Fatal(err)
			}
			if tc.waitClosed {
				recvClose(t, h)
			}
			if tc.big == 0 {
				// Do and AsyncWrite go through the same FIFO, so the
				// write reaches the shard after the close began.
				if err := c.AsyncWrite([]byte("late"), done); err != nil {
					// Also acceptable: refused up front, and done never runs.
					t.Fatalf("AsyncWrite on a closed conn of a live engine: %v", err)
				}
			}
			select {
			case err := <-errc:
				if !errors.Is(err, ErrConnClosed) {
					t.Fatalf("done(%v), want ErrConnClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("done did not run")
			}
			time.Sleep(50 * time.Millisecond) // room for a wrong second call
			if n := calls.Load(); n != 1 {
				t.Fatalf("done ran %d times, want 1", n)
			}
		})
	}
}

// TestOptionsValidation checks that every bad option is refused by New with
// an error that names it.
func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{name: "shards", opt: WithShards(0), want: "WithShards"},
		{name: "balancer", opt: WithBalancer(nil), want: "WithBalancer"},
		{name: "keepalive", opt: WithKeepAlive(-1), want: "WithKeepAlive"},
		{name: "user timeout", opt: WithUserTimeout(-1), want: "WithUserTimeout"},
		{name: "socket buffers", opt: WithSocketBuffers(-1, 0), want: "WithSocketBuffers"},
		{name: "read buffer", opt: WithReadBufferSize(10), want: "WithReadBufferSize"},
		{name: "read budget", opt: WithReadBudget(100), want: "WithReadBudget"},
		{name: "max inbound", opt: WithMaxInbound(100), want: "WithMaxInbound"},
		{name: "watermarks", opt: WithWatermarks(10, 5), want: "WithWatermarks"},
		{name: "max queued", opt: WithMaxQueuedOutput(1), want: "WithMaxQueuedOutput"},
		{name: "idle", opt: WithIdleTimeout(-time.Second), want: "WithIdleTimeout"},
		{name: "linger", opt: WithLingerTimeout(0), want: "WithLingerTimeout"},
		{name: "max conns", opt: WithMaxConns(-1), want: "WithMaxConns"},
		{name: "tick", opt: WithTick(-1), want: "WithTick"},
		{name: "busy poll", opt: WithBusyPoll(-1), want: "WithBusyPoll"},
		{name: "heartbeat without hook", opt: WithHeartbeat(time.Second, nil), want: "WithHeartbeat"},
		{name: "offload pool", opt: WithOffloadPool(0, 1), want: "WithOffloadPool"},
		{name: "block size", opt: WithBlockSize(1), want: "WithBlockSize"},
		{name: "logger", opt: WithLogger(nil), want: "WithLogger"},
	}
	base := fdcheck.Baseline(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(BaseHandler{}, tc.opt)
			if err == nil {
				e.Stop(stopCtx(t, 5*time.Second))
				t.Fatal("New accepted the option")
			}
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want ErrInvalidOption naming %s", err, tc.want)
			}
		})
	}
	if _, err := New(nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("New(nil): %v, want ErrInvalidOption", err)
	}
	fdcheck.Check(t, base) // a refused New starts nothing and leaves nothing
}

// echoCheck sends a distinct message over nc and expects it back. It may
// run on any goroutine (it reports with Errorf).
func echoCheck(t *testing.T, nc net.Conn, i int) bool {
	t.Helper()
	msg := []byte(fmt.Sprintf("message %d over %s", i, nc.LocalAddr()))
	got, err := roundTrip(nc, msg, 5*time.Second)
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("echo %d: %q, %v", i, got, err)
		return false
	}
	return true
}

// TestBalancersServe serves with each balancer and with SO_REUSEPORT, and
// checks where connections land.
func TestBalancersServe(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		// wantShards is how many of the 2 shards must get connections
		// (0: any, as with the kernel's reuse-port hash).
		wantShards int
	}{
		{name: "round-robin", opts: []Option{WithBalancer(balancer.RoundRobin())}, wantShards: 2},
		{name: "least-connections", opts: []Option{WithBalancer(balancer.LeastConnections())}, wantShards: 2},
		{name: "power-of-two", opts: []Option{WithBalancer(balancer.PowerOfTwo())}, wantShards: 2},
		// Every client is 127.0.0.1: one source, one shard.
		{name: "source-hash", opts: []Option{WithBalancer(balancer.SourceHash())}, wantShards: 1},
		{name: "reuse-port", opts: []Option{WithReusePort(true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const conns = 16
			h := newRecHandler(conns)
			_, addr := startEngine(t, h, append([]Option{WithShards(2)}, tc.opts...)...)
			shards := map[int]int{}
			for i := 0; i < conns; i++ {
				nc := dialT(t, "tcp", addr)
				if !echoCheck(t, nc, i) {
					t.FailNow()
				}
				shards[recvOpen(t, h).Shard()]++
			}
			if tc.wantShards > 0 && len(shards) != tc.wantShards {
				t.Fatalf("connections per shard %v; want %d shards used", shards, tc.wantShards)
			}
		})
	}
}

// TestListenNetworks serves tcp4, tcp6 and a unix socket, all on one engine.
func TestListenNetworks(t *testing.T) {
	dir, err := os.MkdirTemp("", "sn") // short: a unix path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "e.sock")
	// Registered first, so it runs after Stop: the engine removes its
	// socket file.
	t.Cleanup(func() {
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("unix socket %s left after Stop: %v", sock, err)
		}
		os.RemoveAll(dir)
	})
	e, tcpAddr := startEngine(t, echoHandler{}, WithShards(2))
	uaddr, err := e.Listen("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		network string
		addr    string
	}{
		{name: "tcp4", network: "tcp", addr: tcpAddr},
		{name: "unix", network: "unix", addr: uaddr.String()},
	}
	if a6, err := e.Listen("tcp6://[::1]:0"); err == nil {
		tests = append(tests, struct{ name, network, addr string }{"tcp6", "tcp", a6.String()})
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	if _, err := e.Listen("sctp://127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "sctp") {
		t.Fatalf("Listen(sctp): %v; want an error naming the network", err)
	}
	if n := len(e.Addrs()); n != len(tests) {
		t.Fatalf("Addrs: %d, want %d", n, len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 4; i++ {
				echoCheck(t, dialT(t, tc.network, tc.addr), i)
			}
		})
	}
}

// TestEnroll hands an accepted net.Conn to the engine, which then serves it.
func TestEnroll(t *testing.T) {
	e, _ := startEngine(t, echoHandler{}, WithShards(2))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		nc := dialT(t, "tcp", ln.Addr().String())
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Enroll(sc); err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			echoCheck(t, nc, i)
		}(i)
	}
	wg.Wait()
	if e.Conns() != 4 {
		t.Fatalf("Conns() = %d after 4 Enrolls", e.Conns())
	}
}

// helloHandler greets every new connection with a short line from OnOpen.
type helloHandler struct{ echoHandler }

func (helloHandler) OnOpen(c *Conn) error {
	_, err := c.WriteString("hello\n")
	return err
}

// TestGreeting: a short write made in OnOpen leaves at once, however the
// connection arrived (the acceptor's hand-off, a reuse-port listener's own
// shard, Enroll), without waiting for some other event on the shard.
func TestGreeting(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		enroll bool
	}{
		{name: "acceptor"},
		{name: "reuse-port", opts: []Option{WithReusePort(true)}},
		{name: "enroll", enroll: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, addr := startEngine(t, helloHandler{}, append([]Option{WithShards(2)}, tc.opts...)...)
			if tc.enroll {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				addr = ln.Addr().String()
				go func() {
					sc, err := ln.Accept()
					if err == nil {
						e.Enroll(sc)
					}
				}()
			}
			for i := 0; i < 4; i++ {
				nc := dialT(t, "tcp", addr)
				nc.SetReadDeadline(time.Now().Add(2 * time.Second))
				line := make([]byte, 6)
				if _, err := io.ReadFull(nc, line); err != nil || string(line) != "hello\n" {
					t.Fatalf("greeting %d: %q, %v", i, line, err)
				}
				if tc.enroll {
					break
				}
			}
		})
	}
}

// sockoptHandler reads socket options of each new connection on its shard.
type sockoptHandler struct {
	BaseHandler
	got chan map[string]int
}

func (h *sockoptHandler) OnOpen(c *Conn) error {
	m := map[string]int{}
	get := func(name string, level, opt int) {
		v, err := unix.GetsockoptInt(c.Fd(), level, opt)
		if err != nil {
			v = -1
		}
		m[name] = v
	}
	get("nodelay", unix.IPPROTO_TCP, unix.TCP_NODELAY)
	get("keepalive", unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	get("keepidle", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	get("usertimeout", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	get("sndbuf", unix.SOL_SOCKET, unix.SO_SNDBUF)
	h.got <- m
	return nil
}

// TestSocketOptions: the engine's socket options reach accepted
// connections.
func TestSocketOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want map[string]int
		// atLeast holds lower bounds (the kernel doubles SO_SNDBUF).
		atLeast map[string]int
	}{
		{name: "defaults", want: map[string]int{"nodelay": 1, "keepalive": 0, "usertimeout": 0}},
		{name: "set", opts: []Option{WithNoDelay(false), WithKeepAlive(30 * time.Second),
			WithUserTimeout(1500 * time.Millisecond), WithSocketBuffers(64<<10, 0)},
			want:    map[string]int{"nodelay": 0, "keepalive": 1, "keepidle": 30, "usertimeout": 1500},
			atLeast: map[string]int{"sndbuf": 64 << 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &sockoptHandler{got: make(chan map[string]int, 1)}
			_, addr := startEngine(t, h, append([]Option{WithShards(1)}, tc.opts...)...)
			_ = dialT(t, "tcp", addr)
			var got map[string]int
			select {
			case got = <-h.got:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnOpen")
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %d, want %d", k, got[k], v)
				}
			}
			for k, v := range tc.atLeast {
				if got[k] < v {
					t.Errorf("%s = %d, want at least %d", k, got[k], v)
				}
			}
		})
	}
}

// TestPinning: with WithPinning each shard's thread runs on its own CPU of
// the allowed set.
func TestPinning(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() < 2 {
		t.Skipf("needs 2 allowed CPUs (%d, %v)", set.Count(), err)
	}
	e, addr := startEngine(t, echoHandler{}, WithShards(2), WithPinning(true))
	for i := 0; i < 2; i++ {
		if !echoCheck(t, dialT(t, "tcp", addr), i) {
			t.FailNow()
		}
	}
	st := e.Stats()
	a, b := st.Shards[0].CPU, st.Shards[1].CPU
	if a < 0 || b < 0 || a == b || !set.IsSet(a) || !set.IsSet(b) {
		t.Fatalf("shard CPUs %d and %d; want two distinct allowed CPUs", a, b)
	}
}

// listenHandler opens a new listener from a callback when told "listen".
type listenHandler struct {
	echoHandler
	res chan error
}

func (h *listenHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) != "listen" {
		c.Write(b)
		return
	}
	a, err := c.Engine().Listen("tcp://127.0.0.1:0")
	if err == nil {
		c.WriteString(a.String())
	}
	h.res <- err
}

// TestListenFromCallback: Listen is callable from a shard's callback, also
// with reuse-port listeners, which it registers on every shard, its own
// included; and a second Listen on a busy port fails cleanly.
func TestListenFromCallback(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{name: "acceptor"},
		{name: "reuse-port", opts: []Option{WithReusePort(true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &listenHandler{res: make(chan error, 1)}
			e, addr := startEngine(t, h, append([]Option{WithShards(2)}, tc.opts...)...)
			nc := dialT(t, "tcp", addr)
			nc.Write([]byte("listen"))
			select {
			case err := <-h.res:
				if err != nil {
					t.Fatalf("Listen from a callback: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Listen from a callback did not return: the shard waits for itself")
			}
			buf := make([]byte, 64)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := nc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !echoCheck(t, dialT(t, "tcp", string(buf[:n])), 1) {
				t.FailNow()
			}
			if len(tc.opts) == 0 { // SO_REUSEPORT lets one user bind twice
				if _, err := e.Listen(string(buf[:n])); err == nil {
					t.Fatal("a second Listen on a port in use succeeded")
				}
			}
		})
	}
}

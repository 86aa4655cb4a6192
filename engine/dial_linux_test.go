package engine

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fullBacklog returns the address of a loopback listener whose accept
// queue is full and which never accepts: a connect to it cannot complete
// (the kernel drops the SYN). It listens with a backlog of 0, through raw
// syscalls since Go's net rounds the backlog up, and fills the queue.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	for i := 0; i < 16; i++ {
		nc, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			if isTimeout(err) {
				return addr // full: this connect could not complete
			}
			t.Fatalf("filling the backlog: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
	}
	t.Fatal("the backlog never filled")
	return ""
}

// dialResult is a Dial callback's outcome.
type dialResult struct {
	c   *Conn
	err error
	at  time.Duration
}

// dialWait dials through e and waits for the callback.
func dialWait(t *testing.T, e *Engine, addr string, opts ...DialOption) dialResult {
	t.Helper()
	res := make(chan dialResult, 1)
	start := time.Now()
	if err := e.Dial(addr, func(c *Conn, err error) {
		res <- dialResult{c, err, time.Since(start)}
	}, opts...); err != nil {
		return dialResult{err: err}
	}
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("Dial(%s) never called back", addr)
		return dialResult{}
	}
}

// TestDial dials out from the engine: to a live echo server over tcp, by
// host name, and over a unix socket; to a closed port; to a listener whose
// backlog is full.
func TestDial(t *testing.T) {
	echo, echoAddr := startEngine(t, echoHandler{}, WithShards(1))
	dir, err := os.MkdirTemp("", "sn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	unixAddr, err := echo.Listen("unix://" + filepath.Join(dir, "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close() // nobody listens there now
	_, port, _ := net.SplitHostPort(echoAddr)

	tests := []struct {
		name string
		addr string
		opts []DialOption
		// check judges the callback's outcome.
		check func(t *testing.T, r dialResult)
	}{
		{name: "tcp", addr: "tcp://" + echoAddr, check: wantEcho},
		{name: "host name", addr: "localhost:" + port, check: wantEcho},
		{name: "unix", addr: "unix://" + unixAddr.String(), check: wantEcho},
		{name: "on shard 1", addr: echoAddr, opts: []DialOption{OnShard(1)}, check: func(t *testing.T, r dialResult) {
			wantEcho(t, r)
			if r.c.Shard() != 1 {
				t.Fatalf("dialed onto shard %d, want 1", r.c.Shard())
			}
		}},
		{name: "refused", addr: refused, check: func(t *testing.T, r dialResult) {
			if r.c != nil || !errors.Is(r.err, syscall.ECONNREFUSED) {
				t.Fatalf("Dial to a closed port: %v, %v; want ECONNREFUSED", r.c, r.err)
			}
		}},
		{name: "timeout", addr: fullBacklog(t), opts: []DialOption{DialTimeout(300 * time.Millisecond)},
			check: func(t *testing.T, r dialResult) {
				var ne net.Error
				if r.c != nil || !errors.As(r.err, &ne) || !ne.Timeout() || !errors.Is(r.err, ErrTimeout) {
					t.Fatalf("Dial to a full backlog: %v, %v; want a net.Error timeout", r.c, r.err)
				}
				if r.at < 300*time.Millisecond || r.at > 3*time.Second {
					t.Fatalf("timed out after %v; want 300 ms and not much more", r.at)
				}
			}},
	}
	h := &dialedHandler{got: make(chan []byte, 16)}
	e, _ := startEngine(t, h, WithShards(2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialWait(t, e, tc.addr, tc.opts...)
			if r.c != nil {
				hd, _ := e.Conn(r.c.ID())
				t.Cleanup(func() { hd.Close() })
			}
			tc.check(t, r)
		})
	}
	if err := e.Dial(echoAddr, func(*Conn, error) {}, OnShard(7)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Dial OnShard(7) of 2: %v, want ErrInvalidOption", err)
	}
	if err := e.Dial(echoAddr, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Dial with a nil callback: %v, want ErrInvalidOption", err)
	}
}

// dialedHandler collects what dialed connections receive.
type dialedHandler struct {
	BaseHandler
	got chan []byte
}

func (h *dialedHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	h.got <- bytes.Clone(b)
}

// wantEcho checks that a dialed connection works: what it writes comes
// back from the echo server.
func wantEcho(t *testing.T, r dialResult) {
	t.Helper()
	if r.err != nil || r.c == nil {
		t.Fatalf("Dial: %v", r.err)
	}
	h := r.c.h.(*dialedHandler)
	hd, _ := r.c.Engine().Conn(r.c.ID())
	msg := []byte("through a dialed connection")
	if err := hd.AsyncWrite(msg, nil); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(msg) {
		select {
		case b := <-h.got:
			got = append(got, b...)
		case <-time.After(5 * time.Second):
			t.Fatalf("echo: %q so far", got)
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// dialInCallbackHandler dials a connect that cannot complete from
// OnTraffic when told "dial", and echoes otherwise.
type dialInCallbackHandler struct {
	echoHandler
	target string
	result chan dialResult
}

func (h *dialInCallbackHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) != "dial" {
		c.Write(b)
		return
	}
	start := time.Now()
	err := c.Engine().Dial(h.target, func(dc *Conn, err error) {
		h.result <- dialResult{dc, err, time.Since(start)}
	}, OnShard(c.Shard()), DialTimeout(time.Second))
	if err != nil {
		h.result <- dialResult{err: err}
	}
}

// TestDialFromCallback: a connect started from a callback, which hangs
// for a second, does not stall the other connections of its shard.
func TestDialFromCallback(t *testing.T) {
	h := &dialInCallbackHandler{target: fullBacklog(t), result: make(chan dialResult, 1)}
	_, addr := startEngine(t, h, WithShards(1))
	trigger := dialT(t, "tcp", addr)
	other := dialT(t, "tcp", addr)
	if _, err := trigger.Write([]byte("dial")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var worst time.Duration
	for i := 0; time.Since(start) < 700*time.Millisecond; i++ {
		t0 := time.Now()
		if !echoCheck(t, other, i) {
			t.FailNow()
		}
		worst = max(worst, time.Since(t0))
		time.Sleep(10 * time.Millisecond)
	}
	// One-sided: a shard blocked by the connect would hold the echo for
	// the whole second.
	if worst > 300*time.Millisecond {
		t.Fatalf("a round trip took %v while the shard was dialing", worst)
	}
	select {
	case r := <-h.result:
		if !errors.Is(r.err, ErrTimeout) {
			t.Fatalf("dial from the callback: %v, want a timeout", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dial from the callback never called back")
	}
}

// TestDialOutcomes: a dial whose handler rejects it in OnOpen calls back
// with the rejection, not with a closing connection; a panic in the
// callback aborts that connection (OnClose with ErrPanic) and the shard
// goes on serving.
func TestDialOutcomes(t *testing.T) {
	e, addr := startEngine(t, echoHandler{}, WithShards(1))

	rejected := newRecHandler(1)
	r := dialWait(t, e, addr, DialHandler(rejectHandler{rec: rejected}))
	if r.c != nil || !errors.Is(r.err, ErrRejected) || !errors.Is(r.err, errNotToday) {
		t.Fatalf("Dial with a rejecting OnOpen: %v, %v; want ErrRejected wrapping the handler's error", r.c, r.err)
	}
	if ev := recvClose(t, rejected); !errors.Is(ev.reason, ErrRejected) {
		t.Fatalf("OnClose of the rejected dial: %v, want ErrRejected", ev.reason)
	}

	rec := newRecHandler(1)

	panicked := make(chan struct{})
	if err := e.Dial(addr, func(c *Conn, err error) {
		if err != nil {
			t.Errorf("Dial: %v", err)
			close(panicked)
			return
		}
		close(panicked)
		panic("callback bug")
	}, DialHandler(rec)); err != nil {
		t.Fatal(err)
	}
	<-panicked
	if ev := recvClose(t, rec); !errors.Is(ev.reason, ErrPanic) {
		t.Fatalf("OnClose after a panicking Dial callback: %v, want ErrPanic", ev.reason)
	}
	// The shard still serves.
	if got := dialWait(t, e, addr, DialHandler(newRecHandler(1))); got.err != nil || got.c == nil {
		t.Fatalf("Dial after the panic: %v, %v", got.c, got.err)
	}
}

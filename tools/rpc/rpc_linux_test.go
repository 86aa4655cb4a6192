package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

// TestOutOfOrder sends many calls at once on one connection, each
// sleeping less than the one before: the server answers them as they
// finish, so they come back in reverse, and each reaches its own caller.
func TestOutOfOrder(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1))
	const n = 40
	ch := make(chan result, n)
	for i := range n {
		goCollect(t, cl, i, mSleep, sleepReq(time.Duration(n-i)*5*time.Millisecond, fmt.Sprint("call-", i)), 0, ch)
	}
	var order []int
	for range n {
		r := <-ch
		if r.err != nil {
			t.Fatalf("call %d: %v", r.i, r.err)
		}
		if want := string(sleepReq(time.Duration(n-r.i)*5*time.Millisecond, fmt.Sprint("call-", r.i))); r.resp != want {
			t.Fatalf("call %d got %q, want %q", r.i, r.resp, want)
		}
		order = append(order, r.i)
	}
	// The last call sleeps 5 ms, the first 200 ms: the first can only be
	// answered after most of the others.
	if order[0] < n/2 || order[n-1] > n/2 {
		t.Fatalf("answers came in order %v; want roughly the reverse of the sending order", order)
	}
	if st := cl.Stats(); st.OK != n || st.Late != 0 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestManyInFlight: thousands of fast calls from many goroutines over a
// small pool, every answer checked against its request.
func TestManyInFlight(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(3), WithMaxInflight(256))
	const workers, per = 16, 200
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var buf []byte
			for i := range per {
				req := fmt.Appendf(nil, "w%d-i%d-%s", w, i, make([]byte, i%300))
				var err error
				buf, err = cl.Call(context.Background(), mEcho, req, buf[:0])
				if err == nil && string(buf) != string(req) {
					err = fmt.Errorf("answer %q to %q", buf, req)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := cl.Stats(); st.OK != workers*per {
		t.Fatalf("stats %+v, want %d OK", st, workers*per)
	}
}

// TestHandlerReturnsRequest: a handler may answer with the request's own
// bytes; the server must not keep that memory as its answer buffer, where
// the next answers would overwrite requests still being read.
func TestHandlerReturnsRequest(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1))
	for _, m := range []uint16{mSame, mSameB} {
		for i := range 300 {
			req := bytes.Repeat([]byte{byte(i)}, 1+(i*977)%20000)
			out, err := cl.Call(context.Background(), m, req, nil)
			if err != nil || !bytes.Equal(out, req) {
				t.Fatalf("method %d call %d (%d bytes): %d bytes back, %v", m, i, len(req), len(out), err)
			}
		}
	}
}

// TestTimeoutDropsLateAnswer: a call that outlives its timeout fails with
// a net.Error that says Timeout, no sooner than the timeout; the answer
// that comes later is dropped and counted, and the connection carries on.
func TestTimeoutDropsLateAnswer(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1))
	const timeout = 50 * time.Millisecond
	start := time.Now()
	ch := make(chan result, 1)
	goCollect(t, cl, 0, mSleep, sleepReq(1500*time.Millisecond, "late"), timeout, ch)
	r := <-ch
	took := time.Since(start)
	var ne net.Error
	if !errors.Is(r.err, ErrTimeout) || !errors.As(r.err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout net.Error", r.err)
	}
	// The bound above is loose on purpose (the machine is shared); how
	// late the timer is shows in the log.
	if took < timeout || took >= timeout+time.Second {
		t.Fatalf("timed out after %v, want %v and a little", took, timeout)
	}
	t.Logf("timed out %v after its deadline", took-timeout)
	waitFor(t, "the late answer", func() bool { return cl.Stats().Late == 1 })
	out, err := cl.Call(context.Background(), mEcho, []byte("after"), nil)
	if err != nil || string(out) != "after" {
		t.Fatalf("call after the timeout: %q, %v", out, err)
	}
	if st := cl.Stats(); st.Timeouts != 1 || st.OK != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTimeoutsInDeadlineOrder: calls on one shard with timeouts that do
// not come in deadline order (a short one after a long one must bring the
// shard's timer forward) each fail no sooner than their own timeout, in
// the order of their deadlines, and long before the longest; their late
// answers are dropped and counted.
func TestTimeoutsInDeadlineOrder(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1), WithClientShards(1))
	timeouts := []time.Duration{1500 * time.Millisecond, 300 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond}
	type ended struct {
		i    int
		took time.Duration
		err  error
	}
	ch := make(chan ended, len(timeouts))
	start := time.Now()
	for i, d := range timeouts {
		// Each call starts after the previous one is on the shard, so
		// the shard sees them in this order.
		err := cl.Go(mSleep, sleepReq(2000*time.Millisecond, ""), d, func(_ []byte, err error) {
			ch <- ended{i, time.Since(start), err}
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the call to reach the server", func() bool { return s.offload.Load() == int64(i+1) })
	}
	var order []int
	for range timeouts {
		e := <-ch
		d := timeouts[e.i]
		if !errors.Is(e.err, ErrTimeout) {
			t.Fatalf("call %d (timeout %v): %v, want ErrTimeout", e.i, d, e.err)
		}
		if e.took < d || e.took >= d+time.Second {
			t.Fatalf("call %d (timeout %v) timed out after %v", e.i, d, e.took)
		}
		if e.i != 0 && e.took >= timeouts[0] {
			// The shard's timer was left set for the first call.
			t.Fatalf("call %d (timeout %v) timed out after %v, with the %v call", e.i, d, e.took, timeouts[0])
		}
		order = append(order, e.i)
		t.Logf("call %d: timeout %v, failed after %v", e.i, d, e.took)
	}
	if want := []int{2, 3, 1, 0}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("calls timed out in order %v, want %v (by deadline)", order, want)
	}
	waitFor(t, "the late answers", func() bool { return cl.Stats().Late == uint64(len(timeouts)) })
	if st := cl.Stats(); st.Timeouts != uint64(len(timeouts)) || st.OK != 0 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCallContextDeadline: Call's context deadline is the call's timeout.
func TestCallContextDeadline(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	_, err := cl.Call(ctx, mSleep, sleepReq(300*time.Millisecond, ""), nil)
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a timeout", err)
	}
}

// TestRemoteErrors: the server's errors reach the caller with their
// sentinel and message.
func TestRemoteErrors(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String())
	tests := []struct {
		name    string
		method  uint16
		want    error
		message string
	}{
		{name: "handler error", method: mFail, want: ErrApplication, message: `no luck with "x"`},
		{name: "unknown method", method: 999, want: ErrUnknownMethod, message: "no handler"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.Call(context.Background(), tc.method, []byte("x"), nil)
			var re *RemoteError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) {
				t.Fatalf("err %v, want a RemoteError wrapping %v", err, tc.want)
			}
			if !strings.Contains(re.Message, tc.message) {
				t.Fatalf("message %q, want it to contain %q", re.Message, tc.message)
			}
		})
	}
}

// TestSlowOffloadDoesNotBlockFast: while a blocking call sleeps on the
// offload pool, fast calls on the same connection are answered.
func TestSlowOffloadDoesNotBlockFast(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1))
	slow := make(chan result, 1)
	goCollect(t, cl, 0, mSleep, sleepReq(1500*time.Millisecond, "slow"), 0, slow)
	start := time.Now()
	for i := range 50 {
		req := fmt.Appendf(nil, "fast-%d", i)
		out, err := cl.Call(context.Background(), mEcho, req, nil)
		if err != nil || string(out) != string(req) {
			t.Fatalf("fast call %d: %q, %v", i, out, err)
		}
	}
	took := time.Since(start)
	select {
	case r := <-slow:
		t.Fatalf("the slow call ended (%v) before the fast ones, after %v", r.err, took)
	default:
	}
	if r := <-slow; r.err != nil || r.resp != string(sleepReq(1500*time.Millisecond, "slow")) {
		t.Fatalf("slow call: %q, %v", r.resp, r.err)
	}
}

// TestServerKilled: a server process killed with calls in flight; every
// pending call fails with ErrConnLost and none waits for its timeout.
func TestServerKilled(t *testing.T) {
	cmd, addr := startChild(t)
	cl := startClient(t, addr, WithConns(2), WithTimeout(time.Minute), WithBackoff(20*time.Millisecond, 50*time.Millisecond))
	if out, err := cl.Call(context.Background(), mEcho, []byte("hi"), nil); err != nil || string(out) != "hi" {
		t.Fatalf("first call: %q, %v", out, err)
	}
	const n = 30
	ch := make(chan result, n)
	for i := range n {
		goCollect(t, cl, i, mSleep, sleepReq(time.Minute, ""), 0, ch)
	}
	time.Sleep(100 * time.Millisecond) // let them reach the server
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range n {
		select {
		case r := <-ch:
			if !errors.Is(r.err, ErrConnLost) {
				t.Fatalf("call %d: err %v, want ErrConnLost", r.i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("a pending call still hangs %v after the kill", time.Since(start))
		}
	}
	if st := cl.Stats(); st.Lost != n {
		t.Fatalf("stats %+v, want %d lost", st, n)
	}
	// The server is gone: new calls fail fast, not hang.
	_, err := cl.Call(context.Background(), mEcho, []byte("x"), nil)
	if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrConnLost) {
		t.Fatalf("call after the kill: %v", err)
	}
}

// TestReconnect: after the server goes away and comes back on the same
// address, the pool reconnects by itself.
func TestReconnect(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	register(s)
	if err := s.Serve([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	cl := startClient(t, addr, WithConns(2), WithBackoff(10*time.Millisecond, 40*time.Millisecond))
	if _, err := cl.Call(context.Background(), mEcho, []byte("a"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pool to notice", func() bool {
		_, err := cl.Call(context.Background(), mEcho, []byte("b"), nil)
		return errors.Is(err, ErrUnavailable)
	})
	s2 := startServerAt(t, addr)
	_ = s2
	waitFor(t, "the pool to reconnect", func() bool {
		out, err := cl.Call(context.Background(), mEcho, []byte("c"), nil)
		return err == nil && string(out) == "c"
	})
	if st := cl.Stats(); st.Reconnects == 0 {
		t.Fatalf("stats %+v, want reconnects", st)
	}
}

func startServerAt(t *testing.T, addr string) *Server {
	t.Helper()
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	register(s)
	if err := s.Serve([]string{addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// TestBackpressure: past MaxInflight, Go fails fast with ErrOverloaded and
// Call waits for room.
func TestBackpressure(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithMaxInflight(4))
	ch := make(chan result, 4)
	for i := range 4 {
		goCollect(t, cl, i, mSleep, sleepReq(200*time.Millisecond, ""), 0, ch)
	}
	if err := cl.Go(mEcho, nil, 0, func([]byte, error) {}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Go with 4 of 4 in flight: %v, want ErrOverloaded", err)
	}
	start := time.Now()
	if _, err := cl.Call(context.Background(), mEcho, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("Call went through after %v with the client full; want it to wait for room", took)
	}
	for range 4 {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for i := range 4 {
		goCollect(t, cl, i, mSleep, sleepReq(200*time.Millisecond, ""), 0, ch)
	}
	if _, err := cl.Call(ctx, mEcho, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call on a full client with a 20 ms context: %v", err)
	}
	for range 4 {
		<-ch
	}
}

// TestBadFrames: a peer whose frame lies about its length, or is too
// short for a header, is closed with a reason wrapping the sentinel; a
// well-behaved client on the same server carries on.
func TestBadFrames(t *testing.T) {
	reasons := make(chan error, 8)
	s := startServer(t, WithServerMaxFrame(1<<16), WithConnCloseHook(func(_ uint64, reason error) { reasons <- reason }))
	addr := s.Addrs()[0].String()
	cl := startClient(t, addr, WithConns(1))
	tests := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{name: "length past the limit", bytes: AppendHeader(nil, Header{ID: 1, Method: mEcho}, 1<<20), want: codec.ErrFrameTooLarge},
		{name: "length of 4 GiB", bytes: []byte{0xff, 0xff, 0xff, 0xf0, 1, 2, 3}, want: codec.ErrFrameTooLarge},
		{name: "length shorter than a header", bytes: []byte{0, 0, 0, 2, 9, 9}, want: ErrBadHeader},
		{name: "a response sent to the server", bytes: AppendHeader(nil, Header{ID: 1, Flags: FlagResponse}, 0), want: ErrBadHeader},
		{name: "unknown flags", bytes: AppendHeader(nil, Header{ID: 1, Flags: 0x40}, 0), want: ErrBadHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// The server aborts: a reset, no answer, and no wait for
			// this side to close.
			if n, err := io.Copy(io.Discard, c); !errors.Is(err, syscall.ECONNRESET) || n != 0 {
				t.Fatalf("server sent %d bytes then %v; want a reset without an answer", n, err)
			}
			select {
			case r := <-reasons:
				if !errors.Is(r, tc.want) || !errors.Is(r, engine.ErrAborted) {
					t.Fatalf("close reason %v, want %v and engine.ErrAborted", r, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no close reason reported")
			}
			out, err := cl.Call(context.Background(), mEcho, []byte("still here"), nil)
			if err != nil || string(out) != "still here" {
				t.Fatalf("the other client: %q, %v", out, err)
			}
		})
	}
	if st := s.Stats(); st.BadFrames != uint64(len(tests)) {
		t.Fatalf("stats %+v, want %d bad frames", st, len(tests))
	}
}

// TestClientRejectsBadAnswer: a server that answers with a garbled frame
// loses the connection, and its calls fail with ErrConnLost and the
// reason.
func TestClientRejectsBadAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write([]byte{0, 0, 0, 3, 1, 2, 3}) // shorter than a header
		io.Copy(io.Discard, c)
	}()
	cl := startClient(t, ln.Addr().String(), WithConns(1), WithBackoff(time.Second, time.Second))
	_, err = cl.Call(context.Background(), mEcho, []byte("x"), nil)
	if !errors.Is(err, ErrConnLost) || !errors.Is(err, ErrBadHeader) || !errors.Is(err, engine.ErrAborted) {
		t.Fatalf("err %v, want ErrConnLost wrapping ErrBadHeader and engine.ErrAborted", err)
	}
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl.Close(ctx)
	<-done
}

// TestGracefulStop: Stop lets a blocking call that is running finish and
// answer, refuses calls that arrive meanwhile, and leaves no goroutine or
// fd behind (server and client).
func TestGracefulStop(t *testing.T) {
	base := fdcheck.Baseline(t)
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	register(s)
	if err := s.Serve([]string{"127.0.0.1:0"}, engine2()...); err != nil {
		t.Fatal(err)
	}
	cl, err := NewClient(s.Addrs()[0].String(), WithConns(2), WithClientShards(2))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan result, 1)
	goCollect(t, cl, 0, mSleep, sleepReq(300*time.Millisecond, "finish me"), 0, ch)
	waitFor(t, "the call to reach the pool", func() bool { return s.offload.Load() == 1 })
	var stopped atomic.Bool
	stopErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopErr <- s.Stop(ctx)
		stopped.Store(true)
	}()
	waitFor(t, "the server to drain", func() bool { return s.draining.Load() })
	_, err = cl.Call(context.Background(), mEcho, []byte("late"), nil)
	if !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("call during the stop: %v, want ErrShuttingDown", err)
	}
	r := <-ch
	if r.err != nil || r.resp != string(sleepReq(300*time.Millisecond, "finish me")) {
		t.Fatalf("the running call: %q, %v", r.resp, r.err)
	}
	if err := <-stopErr; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Call(context.Background(), mEcho, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v, want ErrClosed", err)
	}
	goleak.VerifyNone(t)
	if n := fdcheck.Count(t); n != base {
		t.Fatalf("%d fds open after stop, %d before", n, base)
	}
}

// TestClientCloseFailsPending: Close with calls that will not end in time
// fails them with ErrClosed; none is left hanging.
func TestClientCloseFailsPending(t *testing.T) {
	s := startServer(t)
	cl, err := NewClient(s.Addrs()[0].String(), WithConns(2), WithClientShards(2))
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	ch := make(chan result, n)
	for i := range n {
		goCollect(t, cl, i, mSleep, sleepReq(2*time.Second, ""), 0, ch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cl.Close(ctx)
	for range n {
		select {
		case r := <-ch:
			if !errors.Is(r.err, ErrClosed) {
				t.Fatalf("call %d: %v, want ErrClosed", r.i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call hangs after Close")
		}
	}
}

// TestTypedCall: a struct request and answer through BinaryCodec.
func TestTypedCall(t *testing.T) {
	type sum struct{ A, B int32 }
	type total struct{ Sum int64 }
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(10, Typed(BinaryCodec[sum]{}, BinaryCodec[total]{}, func(r *sum, w *total) error {
		w.Sum = int64(r.A) + int64(r.B)
		return nil
	}))
	if err := s.Serve([]string{"127.0.0.1:0"}, engine2()...); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	cl := startClient(t, s.Addrs()[0].String())
	var w total
	if err := CallTyped(context.Background(), cl, 10, BinaryCodec[sum]{}, BinaryCodec[total]{}, &sum{A: 1 << 30, B: 1 << 30}, &w); err != nil {
		t.Fatal(err)
	}
	if w.Sum != 1<<31 {
		t.Fatalf("sum %d", w.Sum)
	}
	// A request too short for the struct is the handler's error.
	_, err = cl.Call(context.Background(), 10, []byte{1, 2}, nil)
	if !errors.Is(err, ErrApplication) {
		t.Fatalf("short request: %v", err)
	}
}

// TestOutputFullIsOverload: a request the connection's output queue cannot
// take fails with ErrOverloaded (the engine's ErrOutputFull inside), and
// the connection stays up for the next call.
func TestOutputFullIsOverload(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1),
		WithEngineOptions(engine.WithWatermarks(1024, 2048), engine.WithMaxQueuedOutput(4096)))
	_, err := cl.Call(context.Background(), mEcho, make([]byte, 8000), nil)
	if !errors.Is(err, ErrOverloaded) || !errors.Is(err, engine.ErrOutputFull) {
		t.Fatalf("err %v, want ErrOverloaded wrapping engine.ErrOutputFull", err)
	}
	out, err := cl.Call(context.Background(), mEcho, []byte("small"), nil)
	if err != nil || string(out) != "small" {
		t.Fatalf("next call: %q, %v", out, err)
	}
	if st := cl.Stats(); st.Lost != 0 {
		t.Fatalf("stats %+v: nothing was lost", st)
	}
}

// TestRefusedFirstDialIsRetried: first dials the client engine refuses
// outright (its offload pool, which resolves host names, is full) have no
// shard to arm a retry timer on; they are retried off the shard until
// every connection of the pool is up.
func TestRefusedFirstDialIsRetried(t *testing.T) {
	s := startServer(t)
	_, port, err := net.SplitHostPort(s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	const conns = 32
	cl := startClient(t, net.JoinHostPort("localhost", port), WithConns(conns),
		WithBackoff(5*time.Millisecond, 20*time.Millisecond), WithEngineOptions(engine.WithOffloadPool(1, 1)))
	refused := 0
	for _, cc := range cl.conns {
		if err := cc.firstErr.Load(); err != nil {
			if !errors.Is(*err, engine.ErrOffloadFull) {
				t.Fatalf("conn %d: first dial %v", cc.idx, *err)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("all %d first dials got through a 1-slot offload queue; the test needs some refused", conns)
	}
	t.Logf("%d of %d first dials refused", refused, conns)
	waitFor(t, "every connection to be up", func() bool {
		for _, cc := range cl.conns {
			if !cc.up.Load() {
				return false
			}
		}
		return true
	})
	for i := range 2 * conns { // round-robin: every connection carries a call
		req := fmt.Appendf(nil, "call-%d", i)
		out, err := cl.Call(context.Background(), mEcho, req, nil)
		if err != nil || string(out) != string(req) {
			t.Fatalf("call %d: %q, %v", i, out, err)
		}
	}
}

package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
	"time"
)

// goOnCollect is goCollect on connection conn.
func goOnCollect(t *testing.T, cl *Client, conn, i int, method uint16, req []byte, timeout time.Duration, ch chan<- result) {
	t.Helper()
	err := cl.GoOn(conn, method, req, timeout, func(resp []byte, err error) {
		ch <- result{i: i, resp: string(resp), err: err}
	})
	if err != nil {
		t.Fatalf("GoOn %d: %v", i, err)
	}
}

// TestCoalescingHoldsWhileInFlight: with WithCoalescing, a call started
// while its connection has more calls in flight than are held leaves only
// once enough of those have been answered (here: one of two); then it is
// answered like any other.
func TestCoalescingHoldsWhileInFlight(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1), WithCoalescing(true))
	const slow = 300 * time.Millisecond
	ch := make(chan result, 3)
	start := time.Now()
	goOnCollect(t, cl, 0, 0, mSleep, sleepReq(slow, "a"), 0, ch)
	goOnCollect(t, cl, 0, 1, mSleep, sleepReq(slow, "b"), 0, ch)
	time.Sleep(100 * time.Millisecond) // let them be written
	goOnCollect(t, cl, 0, 2, mEcho, []byte("held"), 0, ch)
	var order []int
	for range 3 {
		r := <-ch
		if r.err != nil {
			t.Fatalf("call %d: %v", r.i, r.err)
		}
		order = append(order, r.i)
		if r.i == 2 {
			if r.resp != "held" {
				t.Fatalf("held call answered %q", r.resp)
			}
			if took := time.Since(start); took < slow {
				t.Fatalf("held call answered after %v, before the %v calls in flight ended", took, slow)
			}
		}
	}
	if order[0] == 2 {
		t.Fatalf("answers in order %v; the held call must wait for a slow one", order)
	}
}

// TestCoalescingReleasedByTimeouts: held calls leave when the calls in
// flight ahead of them time out, long before those would be answered.
func TestCoalescingReleasedByTimeouts(t *testing.T) {
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String(), WithConns(1), WithCoalescing(true))
	ch := make(chan result, 3)
	start := time.Now()
	goOnCollect(t, cl, 0, 0, mSleep, sleepReq(2*time.Second, "a"), 100*time.Millisecond, ch)
	goOnCollect(t, cl, 0, 1, mSleep, sleepReq(2*time.Second, "b"), 100*time.Millisecond, ch)
	time.Sleep(100 * time.Millisecond) // let them be written
	goOnCollect(t, cl, 0, 2, mEcho, []byte("held"), 0, ch)
	for range 3 {
		r := <-ch
		switch {
		case r.i < 2 && !errors.Is(r.err, ErrTimeout):
			t.Fatalf("slow call %d: err %v, want a timeout", r.i, r.err)
		case r.i == 2 && (r.err != nil || r.resp != "held"):
			t.Fatalf("held call: %q, %v", r.resp, r.err)
		}
	}
	if took := time.Since(start); took >= 1500*time.Millisecond {
		t.Fatalf("held call answered after %v: it waited for the timed-out calls' answers", took)
	}
	if st := cl.Stats(); st.Timeouts != 2 || st.OK != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCoalescingServerKilled: a held call fails with the connection, like
// the calls in flight, when the server dies.
func TestCoalescingServerKilled(t *testing.T) {
	cmd, addr := startChild(t)
	cl := startClient(t, addr, WithConns(1), WithCoalescing(true), WithTimeout(time.Minute), WithBackoff(20*time.Millisecond, 50*time.Millisecond))
	ch := make(chan result, 3)
	goOnCollect(t, cl, 0, 0, mSleep, sleepReq(time.Minute, ""), 0, ch)
	goOnCollect(t, cl, 0, 1, mSleep, sleepReq(time.Minute, ""), 0, ch)
	time.Sleep(100 * time.Millisecond) // let them reach the server
	goOnCollect(t, cl, 0, 2, mEcho, []byte("held"), 0, ch)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case r := <-ch:
			if !errors.Is(r.err, ErrConnLost) {
				t.Fatalf("call %d: err %v, want ErrConnLost", r.i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call still hangs 5 s after the kill")
		}
	}
	if st := cl.Stats(); st.Lost != 3 {
		t.Fatalf("stats %+v, want 3 lost", st)
	}
}

// TestGoOnChains: slots that each keep to one connection and call again
// from their callback, as rpc-bench does, with and without coalescing;
// every answer is checked against its request.
func TestGoOnChains(t *testing.T) {
	for _, coalesce := range []bool{false, true} {
		s := startServer(t)
		cl := startClient(t, s.Addrs()[0].String(), WithConns(4), WithCoalescing(coalesce))
		const slots, per = 32, 100
		done := make(chan error, slots)
		for i := range slots {
			var n uint32
			req := make([]byte, 4096)
			var cb Callback
			next := func() error {
				n++
				binary.BigEndian.PutUint32(req, uint32(i))
				binary.BigEndian.PutUint32(req[len(req)-4:], n)
				return cl.GoOn(i, mEcho, req, 0, cb)
			}
			cb = func(resp []byte, err error) {
				switch {
				case err != nil:
					done <- err
				case !bytes.Equal(resp, req):
					done <- errors.New("answer does not match its request")
				case n == per:
					done <- nil
				default:
					if err := next(); err != nil {
						done <- err
					}
				}
			}
			if err := next(); err != nil {
				t.Fatal(err)
			}
		}
		for range slots {
			if err := <-done; err != nil {
				t.Fatalf("coalesce %v: %v", coalesce, err)
			}
		}
		if st := cl.Stats(); st.OK != slots*per {
			t.Fatalf("coalesce %v: stats %+v, want %d OK", coalesce, st, slots*per)
		}
	}
	s := startServer(t)
	cl := startClient(t, s.Addrs()[0].String())
	if err := cl.GoOn(-1, mEcho, nil, 0, func([]byte, error) {}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("GoOn(-1): %v, want ErrInvalidOption", err)
	}
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// TestAbortInAsyncDone: two AsyncWrites leave in one writev; the
// first one's done aborts the connection. That runs Chain.Reset inside
// Chain.Consume (which the Chain forbids): the second write, already handed
// to the kernel, must still get done(nil), and nothing may panic.
func TestAbortInAsyncDone(t *testing.T) {
	h := newRecHandler(4)
	e, addr := startEngine(t, h, WithShards(1))
	dialT(t, "tcp", addr)
	c := recvOpen(t, h)
	hd, ok := e.Conn(c.ID())
	if !ok {
		t.Fatal("no handle")
	}
	done2 := make(chan error, 1)
	if err := hd.Do(func(c *Conn) {
		_ = c.AsyncWrite([]byte("first"), func(error) { c.Abort() })
		_ = c.AsyncWrite([]byte("second"), func(err error) { done2 <- err })
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done2:
		if err != nil {
			t.Errorf("second write's done: %v, want nil (its bytes were written by the same writev)", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("second done never ran")
	}
	recvClose(t, h)
	if p := e.Stats().Shards[0].Panics; p != 0 {
		t.Errorf("Stats().Panics = %d, want 0: the engine panicked though no handler did", p)
	}
}

// TestDonePanicDuringClose: an AsyncWrite's done panics when the
// connection is aborted with the write still queued. The close must still
// complete: OnClose runs, the connection leaves the table and the live
// count, and Stop does not wait for it.
func TestDonePanicDuringClose(t *testing.T) {
	h := newRecHandler(4)
	e, addr := startEngine(t, h, WithShards(1))
	dialT(t, "tcp", addr) // never reads: the write stays queued
	c := recvOpen(t, h)
	hd, _ := e.Conn(c.ID())
	big := bytes.Repeat([]byte("x"), 32<<20)
	_ = hd.AsyncWrite(big, func(err error) {
		if err != nil {
			panic("done: " + err.Error())
		}
	})
	if !waitFor(3*time.Second, func() bool { return e.Stats().Shards[0].QueuedBytes > 0 }) {
		t.Fatal("write never queued")
	}
	_ = hd.Abort()
	var reason error
	select {
	case ev := <-h.closed:
		reason = ev.reason
	case <-time.After(2 * time.Second):
	}
	_, stillThere := e.Conn(c.ID())
	live := e.Conns()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stopErr := e.Stop(ctx)
	if reason == nil {
		t.Errorf("OnClose never ran")
	} else if !errors.Is(reason, ErrAborted) {
		t.Logf("OnClose reason %v", reason)
	}
	if stillThere || live != 0 {
		t.Errorf("after Abort: Engine.Conn finds it %v, Conns() = %d; want gone, 0", stillThere, live)
	}
	if stopErr != nil {
		t.Errorf("Stop: %v (it waited for a connection that was closed)", stopErr)
	}
}

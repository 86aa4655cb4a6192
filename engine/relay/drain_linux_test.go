package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDrainLetsTransfersFinish drains while three clients are mid-way
// through paced uploads: new clients are refused at once, the transfers
// complete, each echoed back whole, and Drain returns when the last pair
// has ended.
func TestDrainLetsTransfersFinish(t *testing.T) {
	checkFds(t)
	be := startBackend(t, echo)
	p := startProxy(t, WithPool(mustPool(t, []string{be.addr})))
	const clients, chunks = 3, 40
	chunk := bytes.Repeat([]byte("drain "), 16<<10/6)
	started := make(chan struct{}, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		c := dial(t, p.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() {
				for i := range chunks {
					c.Write(chunk)
					if i == 0 {
						started <- struct{}{}
					}
					time.Sleep(5 * time.Millisecond)
				}
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err == nil && len(got) != chunks*len(chunk) {
				err = errors.New("short echo: " + itoa(int64(len(got))))
			}
			errs <- err
		}()
	}
	for range clients {
		<-started
	}
	// In flight means relayed: a client still in the accept queue when
	// the listener closes is reset by the kernel.
	waitFor(t, 5*time.Second, "the clients' pairs", func() bool { return p.px.Stats().Relayed == clients })
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- p.px.Drain(ctx)
	}()
	// Until the listening socket is closed a connect may still reach its
	// accept queue (and be reset with it); then the kernel refuses.
	waitFor(t, 5*time.Second, "new clients to be refused", func() bool {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) with transfers in flight", err)
	default:
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a transfer in flight during the drain: %v", err)
		}
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last pair ended")
	}
}

// TestDrainDeadline: a pair that does not finish keeps Drain waiting until
// its context ends; Stop then closes it.
func TestDrainDeadline(t *testing.T) {
	checkFds(t)
	be := startBackend(t, echo)
	p := startProxy(t, WithPool(mustPool(t, []string{be.addr})))
	c := dial(t, p.addr)
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.px.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a pair that stays open: %v, want the deadline", err)
	}
	// The client reads to the end Stop gives it, and then closes, as the
	// graceful close waits for.
	ended := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(c)
		c.Close()
		ended <- err
	}()
	stopCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := p.e.Stop(stopCtx); err != nil {
		t.Fatalf("Stop after the drain: %v", err)
	}
	if err := <-ended; err != nil {
		t.Fatalf("the client should see a clean end: %v", err)
	}
}

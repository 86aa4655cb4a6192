package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
	"go.uber.org/goleak"
)

// greetHandler queues a fixed payload on every new connection.
type greetHandler struct {
	BaseHandler
	payload []byte
}

func (h *greetHandler) OnOpen(c *Conn) error {
	_, err := c.Write(h.payload)
	return err
}

func totalOut(e *Engine) (n uint64) {
	for _, s := range e.Stats().Shards {
		n += s.BytesOut
	}
	return n
}

// TestStopDrains stops an engine with 1,000 live connections that still
// have output queued: every byte arrives before the EOF, Stop returns
// without having to abort, a second Stop returns the same, and afterwards
// no goroutine and no fd is left.
func TestStopDrains(t *testing.T) {
	conns := 1000
	if testing.Short() {
		conns = 100
	}
	const size = 128 << 10
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	base := fdcheck.Baseline(t)
	// Fixed socket buffers (no auto-tuning) keep part of each payload in
	// the engine's queue until the clients read: measured, about a quarter
	// of it. (Much smaller ones make loopback crawl.)
	// The linger timeout bounds each close, the flush included; on a
	// loaded machine 1,000 clients may take longer than its default 5 s to
	// read: this test is about Stop draining, within its own 60 s.
	e, err := New(&greetHandler{payload: payload}, WithShards(2), WithSocketBuffers(16<<10, 0), WithLingerTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.(*net.TCPConn).SetReadBuffer(32 << 10)
		ncs[i] = nc
	}
	if !waitFor(10*time.Second, func() bool { return e.Conns() == conns }) {
		t.Fatalf("%d of %d connections open", e.Conns(), conns)
	}
	time.Sleep(200 * time.Millisecond) // let the socket buffers fill
	if out := totalOut(e); out >= uint64(conns*size) {
		t.Fatalf("all %d bytes left before Stop: nothing was queued", out)
	}

	stopErr := make(chan error, 2)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		stopErr <- e.Stop(ctx)
	}()
	var wg sync.WaitGroup
	for i, nc := range ncs {
		wg.Add(1)
		go func(i int, nc net.Conn) {
			defer wg.Done()
			defer nc.Close() // the server lingers until this EOF
			nc.SetReadDeadline(time.Now().Add(60 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil || len(got) != size {
				t.Errorf("conn %d: %d of %d bytes, %v", i, len(got), size, err)
			}
		}(i, nc)
	}
	wg.Wait()
	select {
	case err := <-stopErr:
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := e.Listen("tcp://127.0.0.1:0"); !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("Listen after Stop: %v, want ErrEngineStopped", err)
	}
	if err := e.Dial(addr.String(), func(*Conn, error) {}); !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("Dial after Stop: %v, want ErrEngineStopped", err)
	}
	if err := e.Offload(func() {}); !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("Offload after Stop: %v, want ErrEngineStopped", err)
	}
	goleak.VerifyNone(t)
	fdcheck.Check(t, base)
}

// stopHandler calls Engine.Stop from a callback, or from an Offload
// function, when a connection sends "stop".
type stopHandler struct {
	echoHandler
	from     string
	ticked   atomic.Bool // OnTick stops once, whichever shard ticks first
	e        atomic.Pointer[Engine]
	returned chan error
}

func (h *stopHandler) OnBoot(e *Engine) error { h.e.Store(e); return nil }

func (h *stopHandler) stop() {
	h.returned <- h.e.Load().Stop(context.Background())
}

func (h *stopHandler) OnTraffic(c *Conn) {
	b, _ := c.Next(c.Buffered())
	if string(b) != "stop" {
		c.Write(b)
		return
	}
	switch h.from {
	case "OnTraffic":
		h.stop()
	case "Offload":
		if err := c.Engine().Offload(h.stop); err != nil {
			panic(err)
		}
	}
}

func (h *stopHandler) OnTick(int) {
	if h.from == "OnTick" && h.e.Load().Conns() > 0 && h.ticked.CompareAndSwap(false, true) {
		h.stop()
	}
}

// TestStopFromCallback: Stop called on a shard, or on an Offload worker,
// cannot wait for itself; it starts the stop and returns, and the engine
// then stops completely.
func TestStopFromCallback(t *testing.T) {
	tests := []struct{ from string }{
		{from: "OnTraffic"},
		{from: "OnTick"},
		{from: "Offload"},
	}
	for _, tc := range tests {
		t.Run(tc.from, func(t *testing.T) {
			h := &stopHandler{from: tc.from, returned: make(chan error, 1)}
			e, addr := startEngine(t, h, WithShards(2), WithTick(10*time.Millisecond))
			nc := dialT(t, "tcp", addr)
			if !echoCheck(t, nc, 0) {
				t.FailNow()
			}
			if _, err := nc.Write([]byte("stop")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-h.returned:
				if err != nil {
					t.Fatalf("Stop from %s: %v", tc.from, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Stop from %s did not return: deadlock", tc.from)
			}
			// The stop goes on: the client gets its EOF, and an outside
			// Stop waits for the end.
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("after Stop from %s: %v; want EOF", tc.from, err)
			}
			nc.Close()
			done := make(chan error, 1)
			go func() { done <- e.Stop(stopCtx(t, 10*time.Second)) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("outside Stop after the inside one: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("outside Stop did not return")
			}
		})
	}
}

// TestStopRacesAsyncWrite: writers keep calling AsyncWrite while the engine
// stops. Each call either fails (and done never runs) or succeeds, and then
// done runs exactly once, by the time Stop returns.
func TestStopRacesAsyncWrite(t *testing.T) {
	h := newRecHandler(8)
	base := fdcheck.Baseline(t)
	e, err := New(h, WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []*Conn
	for i := 0; i < 4; i++ {
		nc := dialT(t, "tcp", addr.String())
		go func() {
			io.Copy(io.Discard, nc)
			nc.Close() // ends the server's linger
		}()
		conns = append(conns, recvOpen(t, h))
	}
	var accepted, refused, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	msg := []byte("0123456789abcdef")
	for _, c := range conns {
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(c *Conn) {
				defer wg.Done()
				// At most 64 writes in flight, so that Stop has little
				// to drain and can finish gracefully.
				inflight := make(chan struct{}, 64)
				for {
					select {
					case <-stop:
						return
					case inflight <- struct{}{}:
					}
					if err := c.AsyncWrite(msg, func(error) { done.Add(1); <-inflight }); err != nil {
						<-inflight
						refused.Add(1)
						if errors.Is(err, ErrEngineStopped) {
							return
						}
						continue
					}
					accepted.Add(1)
				}
			}(c)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	close(stop)
	wg.Wait()
	// Writes accepted after Stop returned would be a bug of their own:
	// done could never run. Count them in, then compare.
	if a, d := accepted.Load(), done.Load(); a != d {
		t.Fatalf("%d AsyncWrites accepted, %d done callbacks ran (%d refused)", a, d, refused.Load())
	}
	t.Logf("%d accepted, %d refused", accepted.Load(), refused.Load())
	fdcheck.Check(t, base)
}

// TestStopRacesDial: Dials issued while the engine stops either fail up
// front or call back exactly once, and leave no fd behind.
func TestStopRacesDial(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			c.Close() // the dialer's graceful close then ends at once
		}
	}()
	base := fdcheck.Baseline(t)
	e, err := New(BaseHandler{}, WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	var issued, calls atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.Dial(target.Addr().String(), func(c *Conn, err error) {
					calls.Add(1)
					if c != nil {
						c.Close()
					}
				}); err != nil {
					return
				}
				issued.Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := e.Stop(stopCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	close(stop)
	wg.Wait()
	if i, c := issued.Load(), calls.Load(); i != c {
		t.Fatalf("%d Dials accepted, %d callbacks ran", i, c)
	}
	target.Close()
	fdcheck.Check(t, base)
}

package engine

import (
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rateSink reads and drops everything, counting bytes per listener kind:
// connections to the limited port get a 2 MB/s read limit and join group.
type rateSink struct {
	BaseHandler
	limitedPort atomic.Int64
	group       *RateGroup
	limited     atomic.Int64
	unlimited   atomic.Int64
}

func (h *rateSink) OnOpen(c *Conn) error {
	if c.LocalAddr().(*net.TCPAddr).Port == int(h.limitedPort.Load()) {
		c.SetContext(&h.limited)
		c.SetRateGroup(h.group)
		return c.SetRateLimit(RateLimit{Rate: 2e6}, RateLimit{})
	}
	c.SetContext(&h.unlimited)
	return nil
}

func (h *rateSink) OnTraffic(c *Conn) {
	n, _ := c.Discard(c.Buffered())
	c.Context().(*atomic.Int64).Add(int64(n))
}

// blast writes to addr as fast as it can until stop is closed.
func blast(t *testing.T, addr string, stop <-chan struct{}, wg *sync.WaitGroup) {
	nc := dialT(t, "tcp", addr)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				nc.Close()
				return
			default:
			}
			nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := nc.Write(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()
}

// TestRateLimitLeavesOthersAlone runs, on one shard, a connection limited
// to 2 MB/s beside an unlimited one, both sent to flat out: the limited one
// holds its rate, and the unlimited one moves as much as when it was alone
// (within the noise of a shared machine: at least half, and many times
// the limit). The limited connection's group is empty again once it
// closes.
func TestRateLimitLeavesOthersAlone(t *testing.T) {
	g, err := NewRateGroup(RateLimit{Rate: 1e9}, RateLimit{})
	if err != nil {
		t.Fatal(err)
	}
	h := &rateSink{group: g}
	e, plain := startEngine(t, h, WithShards(1))
	la, err := e.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(la.String())
	p, _ := strconv.Atoi(port)
	h.limitedPort.Store(int64(p))
	const phase = 1500 * time.Millisecond

	var wg sync.WaitGroup
	stop := make(chan struct{})
	blast(t, plain, stop, &wg)
	time.Sleep(200 * time.Millisecond) // the ramp
	u0 := h.unlimited.Load()
	time.Sleep(phase)
	alone := float64(h.unlimited.Load()-u0) / phase.Seconds()

	blast(t, la.String(), stop, &wg)
	time.Sleep(200 * time.Millisecond)
	u1, l1 := h.unlimited.Load(), h.limited.Load()
	time.Sleep(phase)
	beside := float64(h.unlimited.Load()-u1) / phase.Seconds()
	limited := float64(h.limited.Load()-l1) / phase.Seconds()
	close(stop)
	wg.Wait()

	t.Logf("unlimited alone %.1f MB/s, beside the limited one %.1f MB/s (%.2fx); limited %.3f MB/s",
		alone/1e6, beside/1e6, beside/alone, limited/1e6)
	if limited < 2e6*0.85 || limited > 2e6*1.15 {
		t.Errorf("the limited connection read %.3f MB/s, want 2 MB/s within 15 %%", limited/1e6)
	}
	if beside < alone/2 || beside < 10*2e6 {
		t.Errorf("the unlimited connection slowed to %.1f MB/s beside the limited one (%.1f MB/s alone)", beside/1e6, alone/1e6)
	}
	if w := e.Stats().Shards[0].RateWaitsRead; w == 0 {
		t.Errorf("Stats counts no read waits for a connection held at 2 MB/s")
	}
	if !waitFor(5*time.Second, func() bool { return g.read.members.Load() == 0 }) {
		t.Errorf("the group still counts %d members after its connection closed", g.read.members.Load())
	}
}

// countSink counts what it reads and drops it.
type countSink struct {
	BaseHandler
	n atomic.Int64
}

func (h *countSink) OnTraffic(c *Conn) {
	n, _ := c.Discard(c.Buffered())
	h.n.Add(int64(n))
}

// TestListenRateLimit limits a plaintext and a TLS listener to 2 MB/s
// read per connection: a client that sends flat out is held to it (on the
// TLS listener the limit counts ciphertext). A bad limit fails Listen.
func TestListenRateLimit(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name  string
		tls   bool
		lopts []ListenOption
	}{
		{"plaintext", false, nil},
		{"TLS", true, []ListenOption{ListenTLS(pki.server())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &countSink{}
			e, _ := startEngine(t, h)
			a, err := e.Listen("tcp://127.0.0.1:0", append(tc.lopts, ListenRateLimit(RateLimit{Rate: 2e6}, RateLimit{}, nil))...)
			if err != nil {
				t.Fatal(err)
			}
			var w interface{ Write([]byte) (int, error) } = dialT(t, "tcp", a.String())
			if tc.tls {
				w = dialTLS(t, a.String(), pki.client(tls.VersionTLS13))
			}
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 32<<10)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := w.Write(buf); err != nil {
						return
					}
				}
			}()
			time.Sleep(200 * time.Millisecond)
			n0 := h.n.Load()
			time.Sleep(1500 * time.Millisecond)
			got := float64(h.n.Load()-n0) / 1.5
			close(stop)
			t.Logf("%s: %.3f MB/s read (plaintext)", tc.name, got/1e6)
			// TLS: the bucket counts records (a little more than the
			// plaintext).
			if got < 2e6*0.85 || got > 2e6*1.1 {
				t.Errorf("%s: %.3f MB/s, want 2 MB/s within 15 %%", tc.name, got/1e6)
			}
			if c, ok := w.(interface{ Close() error }); ok {
				c.Close() // the writer returns
			}
			<-done
		})
	}
	e, _ := startEngine(t, &countSink{})
	if _, err := e.Listen("tcp://127.0.0.1:0", ListenRateLimit(RateLimit{Rate: -5}, RateLimit{}, nil)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Listen with a negative rate: %v, want ErrInvalidOption", err)
	}
}

package relay

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// queued is the output waiting in the proxy engine's connections.
func queued(e *engine.Engine) int64 {
	var n int64
	for _, s := range e.Stats().Shards {
		n += s.QueuedBytes
	}
	return n
}

// TestBackPressureBoundsQueuedOutput relays 48 MiB to a side that reads
// nothing for a while, then reads all: a slow backend (client -> backend)
// and a slow client (backend -> client). The engine's queued output,
// sampled throughout, must stay within the high watermark plus one read:
// the watermarks pause the feeding side, so the rest waits in the kernel
// and the sender. And every byte must arrive, in order.
func TestBackPressureBoundsQueuedOutput(t *testing.T) {
	const total = 48 << 20
	const low, high = 64 << 10, 256 << 10
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{'b', 'p'}).Read(data)
	want := sha256.Sum256(data)
	for _, slow := range []string{"backend", "client"} {
		for _, mode := range spliceModes {
			t.Run(slow+"/"+mode.name, func(t *testing.T) {
				checkFds(t)
				lead := copyReadBuf
				if mode.splice {
					lead = spliceLeadRead
				}
				// The stalled side waits until the test has seen the
				// queue reach its bound, then reads everything.
				stallDone := make(chan struct{})
				got := make(chan [32]byte, 1)
				reader := func(r io.Reader) {
					<-stallDone
					h := sha256.New()
					copyPlain(h, r)
					var s [32]byte
					copy(s[:], h.Sum(nil))
					got <- s
				}
				var be *testBackend
				if slow == "backend" {
					be = startBackend(t, func(c net.Conn) { defer c.Close(); reader(c) })
				} else {
					be = startBackend(t, func(c net.Conn) {
						defer c.Close()
						c.Write(data)
						c.(*net.TCPConn).CloseWrite()
						io.Copy(io.Discard, c)
					})
				}
				p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice), WithWatermarks(low, high))
				c := dial(t, p.addr)
				c.SetDeadline(time.Now().Add(60 * time.Second))
				if slow == "backend" {
					go func() {
						c.Write(data)
						c.CloseWrite()
					}()
				} else {
					go func() { reader(c); c.Close() }()
				}
				// Sample the queue while the reader stalls: 1 s, which
				// fills the kernel's buffers on both sides and then the
				// relay's up to its bound.
				var peak int64
				stallEnd := time.Now().Add(time.Second)
				for time.Now().Before(stallEnd) {
					peak = max(peak, queued(p.e))
					time.Sleep(2 * time.Millisecond)
				}
				close(stallDone)
				// And while it reads.
				var sum [32]byte
			sample:
				for {
					select {
					case sum = <-got:
						break sample
					case <-time.After(2 * time.Millisecond):
						peak = max(peak, queued(p.e))
					}
				}
				if sum != want {
					t.Fatalf("the slow %s received a different stream (sha256 %x, want %x)", slow, sum, want)
				}
				t.Logf("slow %s, %s: peak queued output %d KiB (high mark %d KiB, one read %d KiB)", slow, mode.name, peak>>10, high>>10, lead>>10)
				if peak > int64(high+lead) {
					t.Fatalf("queued output peaked at %d bytes, over the high mark %d plus one read %d: back-pressure does not bound it", peak, high, lead)
				}
				if !mode.splice && peak <= high {
					t.Fatalf("queued output peaked at %d bytes, never over the high mark %d: the stall did not reach the relay", peak, high)
				}
			})
		}
	}
}

// TestHalfCloseEachWay checks that each side's half-close reaches the
// other while the opposite direction goes on.
func TestHalfCloseEachWay(t *testing.T) {
	payload := bytes.Repeat([]byte("half-close "), 100<<10)
	for _, mode := range spliceModes {
		t.Run("client first/"+mode.name, func(t *testing.T) {
			checkFds(t)
			// The backend answers only after the client's EOF.
			be := startBackend(t, func(c net.Conn) {
				defer c.Close()
				n, _ := copyPlain(io.Discard, c)
				c.Write([]byte("read " + itoa(n)))
			})
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice))
			c := dial(t, p.addr)
			if _, err := c.Write(payload); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := "read " + itoa(int64(len(payload))); string(reply) != want {
				t.Fatalf("reply %q, want %q", reply, want)
			}
		})
		t.Run("backend first/"+mode.name, func(t *testing.T) {
			checkFds(t)
			// The backend greets, half-closes, then reads the client.
			received := make(chan int64, 1)
			be := startBackend(t, func(c net.Conn) {
				defer c.Close()
				c.Write([]byte("hello, then EOF"))
				c.(*net.TCPConn).CloseWrite()
				n, _ := copyPlain(io.Discard, c)
				received <- n
			})
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice))
			c := dial(t, p.addr)
			greeting, err := io.ReadAll(c) // ends at the backend's EOF
			if err != nil || string(greeting) != "hello, then EOF" {
				t.Fatalf("greeting %q, %v", greeting, err)
			}
			// The client's direction still carries bytes.
			if _, err := c.Write(payload); err != nil {
				t.Fatalf("write after the backend's half-close: %v", err)
			}
			c.CloseWrite()
			select {
			case n := <-received:
				if n != int64(len(payload)) {
					t.Fatalf("backend read %d bytes after its half-close, want %d", n, len(payload))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the client's EOF did not reach the backend")
			}
			waitFor(t, 5*time.Second, "the pair to end", func() bool { return p.px.Stats().Active == 0 })
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBackendKilledMidStream resets the backend's side in the middle of a
// transfer: the client must see the reset (not a clean end it could take
// for the whole answer), and the proxy goes on serving.
func TestBackendKilledMidStream(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.name, func(t *testing.T) {
			checkFds(t)
			var first atomic.Bool
			be := startBackend(t, func(c net.Conn) {
				if first.CompareAndSwap(false, true) {
					c.Write(bytes.Repeat([]byte("x"), 1<<20))
					time.Sleep(50 * time.Millisecond)
					c.(*net.TCPConn).SetLinger(0) // close with a reset, as a killed process with unread input does
					c.Close()
					return
				}
				echo(c)
			})
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice))
			c := dial(t, p.addr)
			c.Write([]byte("unread by the backend"))
			n, err := copyPlain(io.Discard, c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("client read %d bytes and then %v, want a connection reset", n, err)
			}
			// The proxy carries on.
			c2 := dial(t, p.addr)
			c2.Write([]byte("still here"))
			c2.CloseWrite()
			if got, err := io.ReadAll(c2); err != nil || string(got) != "still here" {
				t.Fatalf("next client got %q, %v", got, err)
			}
			waitFor(t, 5*time.Second, "pairs to end", func() bool { return p.px.Stats().Active == 0 })
		})
	}
}

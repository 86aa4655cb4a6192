package relay

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// TestTuneOnBulkOnly: a pair that only exchanges short messages keeps the
// kernel's TCP_NOTSENT_LOWAT (none), so a one-request connection pays no
// setsockopt for it; once a bulk read is relayed towards the client, the
// client's socket gets the mark of the path in use.
func TestTuneOnBulkOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		splice bool
		want   int
	}{
		{"copy", false, copyNotSentLowat},
		{"splice", true, spliceNotSentLowat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkFds(t)
			be := startBackend(t, echo)
			clients := make(chan int, 1)
			// The Router sees the client's Conn on its shard and hands
			// its fd over (Fd is loop only); the test reads the socket
			// option of the fd, which the kernel answers for any thread,
			// while the client keeps the connection open.
			route := func(c *engine.Conn, head []byte, eof bool) (*Pool, error) {
				if len(head) == 0 {
					return nil, ErrNeedMore
				}
				clients <- c.Fd()
				return nil, nil
			}
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithRouter(route), WithSplice(tc.splice))
			c := dial(t, p.addr)
			lowat := func(fd int) int {
				v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
				if err != nil {
					t.Fatalf("getsockopt: %v", err)
				}
				return v
			}
			for i := 0; i < 3; i++ {
				msg := []byte("short request\n")
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo %q, %v", got, err)
				}
			}
			client := <-clients
			// Untouched, an established socket reports the kernel's
			// default (the sysctl: -1 as an int when unlimited, as here);
			// it must not be the relay's mark yet.
			if v := lowat(client); v == tc.want {
				t.Fatalf("after short exchanges TCP_NOTSENT_LOWAT = %d already: the pair was tuned before any bulk read", v)
			}
			bulk := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
			go c.Write(bulk)
			got := make([]byte, len(bulk))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, bulk) {
				t.Fatalf("bulk echo: %v (equal %v)", err, bytes.Equal(got, bulk))
			}
			if v := lowat(client); v != tc.want {
				t.Fatalf("after a bulk transfer TCP_NOTSENT_LOWAT = %d, want %d", v, tc.want)
			}
		})
	}
}

// TestMarksWithAndWithoutEngineOptions: on an engine made with the Proxy's
// EngineOptions every connection is in notify mode with the relay's marks
// from the start (nothing stored per connection); on an engine made
// without them the Proxy sets them on each connection it relays. Either
// way the client's connection reports the relay's marks in notify mode
// and a megabyte is echoed whole.
func TestMarksWithAndWithoutEngineOptions(t *testing.T) {
	const low, high = 32 << 10, 128 << 10
	for _, withOpts := range []bool{true, false} {
		name := "without EngineOptions"
		if withOpts {
			name = "with EngineOptions"
		}
		t.Run(name, func(t *testing.T) {
			checkFds(t)
			be := startBackend(t, echo)
			type marks struct {
				low, high int
				mode      engine.WaterMode
			}
			seen := make(chan marks, 1)
			route := func(c *engine.Conn, head []byte, eof bool) (*Pool, error) {
				l, h, m := c.Watermarks() // loop only: the Router runs on the client's shard
				seen <- marks{l, h, m}
				return nil, nil
			}
			px, err := New(WithPool(mustPool(t, []string{be.addr})), WithRouter(route), WithWatermarks(low, high))
			if err != nil {
				t.Fatal(err)
			}
			opts := []engine.Option{engine.WithShards(1)}
			if withOpts {
				opts = append(opts, px.EngineOptions()...)
			}
			e, err := engine.Serve(px, []string{"127.0.0.1:0"}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
			c := dial(t, e.Addrs()[0].String())
			bulk := bytes.Repeat([]byte("marks ok "), 1<<17)
			go c.Write(bulk)
			got := make([]byte, len(bulk))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, bulk) {
				t.Fatalf("echo: %v (equal %v)", err, bytes.Equal(got, bulk))
			}
			if m := <-seen; m != (marks{low, high, engine.WaterNotify}) {
				t.Fatalf("client's marks %+v, want %d/%d in notify mode", m, low, high)
			}
		})
	}
}

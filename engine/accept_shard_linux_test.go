package engine

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOneShardAcceptsOnItsLoop: with one shard the listener is watched by
// that shard's loop (no acceptor loop, no hand-off between threads), with
// or without WithReusePort, for TCP and unix sockets; with two shards and
// no WithReusePort the acceptor loop still accepts. Every case echoes.
func TestOneShardAcceptsOnItsLoop(t *testing.T) {
	for _, tc := range []struct {
		name       string
		unix       bool
		shards     int
		reusePort  bool
		acceptLoop bool
	}{
		{"tcp one shard", false, 1, false, false},
		{"tcp one shard reuseport", false, 1, true, false},
		{"unix one shard", true, 1, false, false},
		{"tcp two shards", false, 2, false, true},
		{"tcp two shards reuseport", false, 2, true, false},
		{"unix two shards", true, 2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, network := "tcp://127.0.0.1:0", "tcp"
			if tc.unix {
				addr, network = "unix://"+filepath.Join(t.TempDir(), "s.sock"), "unix"
			}
			e, bound := startEngineAt(t, echoHandler{}, addr, WithShards(tc.shards), WithReusePort(tc.reusePort))
			e.mu.Lock()
			hasLoop := e.acceptLoop != nil
			l := e.listeners[0]
			e.mu.Unlock()
			if hasLoop != tc.acceptLoop {
				t.Fatalf("acceptor loop started: %v, want %v", hasLoop, tc.acceptLoop)
			}
			for _, a := range l.acceptors {
				if onShard := a.shard >= 0; onShard == tc.acceptLoop {
					t.Fatalf("acceptor on shard %d with an acceptor loop %v", a.shard, tc.acceptLoop)
				}
				if !tc.unix {
					// WithReusePort is what it says, one shard or many.
					v, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_REUSEPORT)
					if err != nil || (v != 0) != tc.reusePort {
						t.Fatalf("SO_REUSEPORT = %d (%v), want %v", v, err, tc.reusePort)
					}
				}
			}
			for i := 0; i < 4; i++ {
				nc := dialT(t, network, trimScheme(bound))
				msg := []byte("hello through the listener")
				got, err := roundTrip(nc, msg, 5*time.Second)
				if err != nil || string(got) != string(msg) {
					t.Fatalf("echo %d: %q, %v", i, got, err)
				}
			}
		})
	}
}

// trimScheme drops a "unix://" or "tcp://" prefix from a bound address.
func trimScheme(a string) string {
	for _, p := range []string{"unix://", "tcp://"} {
		if len(a) > len(p) && a[:len(p)] == p {
			return a[len(p):]
		}
	}
	return a
}

// pausingHandler pauses reading in OnOpen and hands the Conn to the test.
type pausingHandler struct {
	echoHandler
	opened chan *Conn
}

func (h pausingHandler) OnOpen(c *Conn) error {
	c.PauseRead()
	h.opened <- c
	return nil
}

// TestOpenPausedIsNotWatched: an accepted connection is watched only with
// the interest its OnOpen leaves, so one paused there is not in the
// poller at all (no epoll add and delete) until ResumeRead, and then
// reads what waited in the kernel meanwhile.
func TestOpenPausedIsNotWatched(t *testing.T) {
	h := pausingHandler{opened: make(chan *Conn, 1)}
	_, addr := startEngine(t, h, WithShards(1))
	nc := dialT(t, "tcp", addr)
	if _, err := nc.Write([]byte("waits in the kernel")); err != nil {
		t.Fatal(err)
	}
	c := <-h.opened
	watched := make(chan bool, 2)
	onLoop := func(fn func()) {
		if err := c.sh.loop.Submit(fn); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	onLoop(func() {
		_, w := c.sh.loop.Watching(int(c.fd))
		watched <- w
		c.ResumeRead()
		_, w = c.sh.loop.Watching(int(c.fd))
		watched <- w
	})
	if w := <-watched; w {
		t.Fatal("a connection paused in OnOpen is watched")
	}
	if w := <-watched; !w {
		t.Fatal("ResumeRead did not watch the connection")
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("waits in the kernel"))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "waits in the kernel" {
		t.Fatalf("echo after resume: %q, %v", got, err)
	}
}

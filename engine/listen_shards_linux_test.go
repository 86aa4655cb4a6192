package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestListenFromTwoShardsAtOnce: two shards that call Listen from their
// callbacks at the same moment, with reuse-port listeners (one socket per
// shard, so each Listen needs the other shard's loop), both get their
// listener; neither waits for the other, which may be waiting for it. Every
// socket of both listeners is watched: many connections to each, spread by
// the kernel over its reuse-port group, all echo.
func TestListenFromTwoShardsAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		listen func(e *Engine) (net.Addr, error)
	}{
		{name: "Listen", listen: func(e *Engine) (net.Addr, error) { return e.Listen("tcp://127.0.0.1:0") }},
		// One adopted reuse-port socket for two shards: the engine opens a
		// second for the other shard, whose loop the caller must not wait
		// for.
		{name: "ListenFiles", listen: func(e *Engine) (net.Addr, error) {
			f, err := reusePortListenerFile()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return e.ListenFiles([]*os.File{f})
		}},
		// A UDP socket per shard: the same wait for the other shard.
		{name: "ListenPacket", listen: func(e *Engine) (net.Addr, error) {
			l, err := e.ListenPacket("udp://127.0.0.1:0", udpEcho{})
			if err != nil {
				return nil, err
			}
			return l.Addr(), nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testListenFromTwoShards(t, tc.listen) })
	}
}

// reusePortListenerFile is a listening TCP socket on 127.0.0.1 with
// SO_REUSEPORT set, as another process would hand it over.
func reusePortListenerFile() (*os.File, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.(*net.TCPListener).File()
}

func testListenFromTwoShards(t *testing.T, listen func(e *Engine) (net.Addr, error)) {
	const shards = 2
	h := &shardSeenHandler{opened: make(chan Handle, 64)}
	_, addr := startEngine(t, h, WithShards(shards), WithReusePort(true))
	// A connection on each shard, to run a callback there: the kernel
	// spreads connections over the reuse-port group by hash, so dial until
	// both shards have one (bounded).
	on := map[int]Handle{}
	for k := 0; len(on) < shards; k++ {
		if k == 64 {
			t.Fatalf("64 connections reached shards %v only", on)
		}
		dialT(t, "tcp", addr)
		select {
		case hd := <-h.opened:
			if _, ok := on[h.shardOf(hd)]; !ok {
				on[h.shardOf(hd)] = hd
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no OnOpen")
		}
	}
	type result struct {
		addr net.Addr
		err  error
	}
	var arrived atomic.Int32
	results := make(chan result, shards)
	for _, hd := range on {
		if err := hd.Do(func(c *Conn) {
			// Meet the other shard first, so both are inside a callback when
			// they call Listen (bounded: a lone shard goes on after 2 s).
			arrived.Add(1)
			for end := time.Now().Add(2 * time.Second); arrived.Load() < shards && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
			a, err := listen(c.Engine())
			results <- result{a, err}
		}); err != nil {
			t.Fatal(err)
		}
	}
	var addrs []net.Addr
	for i := 0; i < shards; i++ {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("listen from a shard callback: %v", r.err)
			}
			addrs = append(addrs, r.addr)
		case <-time.After(10 * time.Second):
			t.Fatal("listening from two shards at once did not return: the shards wait for each other")
		}
	}
	for _, addr := range addrs {
		// 16 connections (or UDP senders) per listener: with two sockets
		// in the group, one left unwatched would leave about half of them
		// unanswered.
		for k := 0; k < 16; k++ {
			if addr.Network() == "udp" {
				udpEchoCheck(t, addr.String(), k)
			} else if !echoCheck(t, dialT(t, "tcp", addr.String()), k) {
				t.Fatalf("listener %s: connection %d got no echo", addr, k)
			}
		}
	}
}

// udpEchoCheck sends one datagram from a new socket and wants it back.
func udpEchoCheck(t *testing.T, addr string, k int) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := fmt.Sprintf("datagram %d", k)
	buf := make([]byte, 64)
	// Datagrams may be lost: three tries, each bounded.
	for try := 0; try < 3; try++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err == nil && string(buf[:n]) == msg {
			return
		}
	}
	t.Fatalf("listener %s: sender %d got no echo", addr, k)
}

// shardSeenHandler echoes and reports each opened connection's handle,
// remembering which shard it is on.
type shardSeenHandler struct {
	echoHandler
	opened chan Handle
	mu     sync.Mutex
	shard  map[uint64]int
}

func (h *shardSeenHandler) OnOpen(c *Conn) error {
	h.mu.Lock()
	if h.shard == nil {
		h.shard = map[uint64]int{}
	}
	h.shard[c.ID()] = c.Shard()
	h.mu.Unlock()
	select {
	case h.opened <- Handle{c: c}:
	default: // the test took what it needed
	}
	return nil
}

func (h *shardSeenHandler) shardOf(hd Handle) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shard[hd.ID()]
}

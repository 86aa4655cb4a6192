package buffer

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChainRealWritev drives a Chain the way the engine will: writev the
// iovecs from Buffers to a non-blocking socket with a small send buffer, so
// the kernel takes part of them, and Consume what it took. The peer must
// receive exactly the bytes queued, in order, and every owned slice must be
// released once, with true.
func TestChainRealWritev(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}

	pool := NewPool(WithPoolDebug(true))
	var c Chain
	c.Init(pool, 1024)
	var want bytes.Buffer
	released, owned := 0, 0
	for i := range 200 {
		p := seq(i, 100+i*13%2000)
		if i%3 == 0 {
			owned++
			c.Append(p, func(consumed bool) {
				if !consumed {
					t.Error("owned slice dropped, not consumed")
				}
				released++
			})
		} else {
			c.Write(p)
		}
		want.Write(p)
	}

	var got bytes.Buffer
	rbuf := make([]byte, 64<<10)
	drain := func() {
		for {
			n, err := unix.Read(fds[1], rbuf)
			if n <= 0 || err != nil {
				return
			}
			got.Write(rbuf[:n])
		}
	}
	iov := make([][]byte, 0, 64)
	partial := 0
	for c.Len() > 0 {
		iov = c.Buffers(iov[:0], 64)
		n, err := unix.Writev(fds[0], iov)
		switch {
		case errors.Is(err, unix.EAGAIN):
			n = 0
		case err != nil:
			t.Fatal(err)
		}
		if total := len(bytes.Join(iov, nil)); n < total {
			partial++
		}
		runAll(c.Consume(n, nil))
		drain()
	}
	drain()
	if partial == 0 {
		t.Fatal("the kernel never took part of a writev: the test did not exercise partial consumption")
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("peer received %d bytes that differ from the %d queued", got.Len(), want.Len())
	}
	if released != owned {
		t.Fatalf("%d of %d owned slices released", released, owned)
	}
	if pool.Outstanding() != 0 {
		t.Fatalf("drained chain holds %d bytes of pool memory", pool.Outstanding())
	}
	t.Logf("%d bytes in %d partial writevs", want.Len(), partial)
}

// TestRingReadWithRawRead fills a Ring straight from a socket with read(2),
// as the engine will: unix.Read returns -1 with EAGAIN when the socket is
// drained, which ReadWith must count as no bytes, leaving an idle Ring that
// holds no memory.
func TestRingReadWithRawRead(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	pool := NewPool(WithPoolDebug(true))
	var r Ring
	r.Init(pool, 1<<20)
	read := func(p []byte) (int, error) { return unix.Read(fds[1], p) }

	if n, err := r.ReadWith(read); n != 0 || !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("ReadWith on a drained socket = %d, %v; want 0, EAGAIN", n, err)
	}
	if r.Cap() != 0 || pool.Outstanding() != 0 {
		t.Fatalf("idle ring holds %d bytes (pool %d) after EAGAIN", r.Cap(), pool.Outstanding())
	}

	want := seq(0, 20000)
	if _, err := unix.Write(fds[0], want); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := r.ReadWith(read)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil || n <= 0 {
			t.Fatalf("ReadWith = %d, %v", n, err)
		}
	}
	got, err := r.Next(r.Len())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ring holds %d bytes that differ from the %d sent (%v)", len(got), len(want), err)
	}
	r.Release()
	if pool.Outstanding() != 0 {
		t.Fatalf("Outstanding = %d after Release", pool.Outstanding())
	}
}

package netconn

import (
	"bytes"
	"io"
	"testing"
	"time"
	"unsafe"
)

// TestConnFitsSizeClass pins what the Conn's layout comment promises: an
// idle server holds one per connection, in the allocator's 192-byte class.
func TestConnFitsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 192 {
		t.Fatalf("Conn is %d bytes, over the 192-byte size class", n)
	}
}

// waitParked waits until ac's reader is parked with its buffer as the
// input (direct), so that what the peer sends next goes straight into it.
func waitParked(t *testing.T, ac *Conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		ac.mu.Lock()
		parked := ac.direct
		ac.mu.Unlock()
		if parked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the Read never parked")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReadDirect: a parked Read gets what arrives in its own buffer,
// whether it fits (one Read takes it all, nothing left in the Conn) or
// not (the Read takes what fits, the rest waits for the next Reads, in
// order), and a Read that ends on Close or its deadline leaves no
// reference to its buffer behind.
func TestReadDirect(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct {
		name      string
		size, buf int
	}{
		{"fits", 100, 4096},
		{"exactly", 64, 64},
		{"larger than the buffer", 10000, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer, nc := s.plainPair(t)
			ac := nc.(*Conn)
			msg := pattern(tc.size)
			type res struct {
				n   int
				err error
				p   []byte
			}
			ch := make(chan res, 1)
			go func() {
				p := make([]byte, tc.buf)
				n, err := ac.Read(p)
				ch <- res{n, err, p}
			}()
			waitParked(t, ac)
			if _, err := peer.Write(msg); err != nil {
				t.Fatal(err)
			}
			var r res
			select {
			case r = <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("the parked Read was not woken")
			}
			if r.err != nil || r.n == 0 || r.n > tc.buf {
				t.Fatalf("Read = %d, %v; want 1..%d bytes", r.n, r.err, tc.buf)
			}
			got := append([]byte(nil), r.p[:r.n]...)
			ac.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest := make([]byte, tc.size-r.n)
			if _, err := io.ReadFull(ac, rest); err != nil {
				t.Fatalf("reading the rest: %v", err)
			}
			if got = append(got, rest...); !bytes.Equal(got, msg) {
				t.Fatal("the bytes read differ from those sent")
			}
			ac.mu.Lock()
			left, direct := len(ac.in), ac.direct
			ac.mu.Unlock()
			if left != 0 || direct {
				t.Fatalf("after reading all: %d bytes left, direct %v", left, direct)
			}
		})
	}

	t.Run("deadline", func(t *testing.T) {
		peer, nc := s.plainPair(t)
		ac := nc.(*Conn)
		ac.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		p := make([]byte, 8)
		if n, err := ac.Read(p); n != 0 || err == nil {
			t.Fatalf("Read past its deadline = %d, %v", n, err)
		}
		ac.mu.Lock()
		held, direct := ac.in != nil, ac.direct
		ac.mu.Unlock()
		if held || direct {
			t.Fatal("the timed-out Read left its buffer as the input")
		}
		// What arrives next is kept for the next Read, not written into
		// the old buffer.
		if _, err := peer.Write([]byte("abc")); err != nil {
			t.Fatal(err)
		}
		ac.SetReadDeadline(time.Now().Add(5 * time.Second))
		q := make([]byte, 8)
		n, err := io.ReadAtLeast(ac, q, 3)
		if err != nil || string(q[:n]) != "abc" {
			t.Fatalf("next Read = %q, %v", q[:n], err)
		}
		if !bytes.Equal(p, make([]byte, 8)) {
			t.Fatalf("the timed-out Read's buffer was written to: %q", p)
		}
	})
}

// TestReadEarlyInputPooled: input that comes before its reader waits in a
// pooled block, which the Read that takes all of it gives back; input
// taken in parts is read whole and in order.
func TestReadEarlyInputPooled(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct {
		name      string
		size, buf int
	}{
		{"one read takes it all", 48, 4096},
		{"taken in parts", 3000, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer, nc := s.plainPair(t)
			ac := nc.(*Conn)
			msg := pattern(tc.size)
			if _, err := peer.Write(msg); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); unread(ac) < tc.size; {
				if time.Now().After(deadline) {
					t.Fatalf("the shard buffered %d of %d bytes", unread(ac), tc.size)
				}
				time.Sleep(time.Millisecond)
			}
			ac.mu.Lock()
			pooled := ac.pooled
			ac.mu.Unlock()
			if !pooled {
				t.Fatal("early input is not in a pooled block")
			}
			got := make([]byte, 0, tc.size)
			p := make([]byte, tc.buf)
			for len(got) < tc.size {
				n, err := ac.Read(p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p[:n]...)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("the bytes read differ from those sent")
			}
			// Both the connections of this test's server share ops; the
			// other subtest's blocks came back too (no writes here).
			if n := ac.ops.bufs.Outstanding(); tc.size <= tc.buf && n != 0 {
				t.Fatalf("%d bytes of pooled blocks outstanding after the Read took all", n)
			}
		})
	}
}

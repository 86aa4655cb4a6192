package engine

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countConn counts the bytes read from the wire under a tls.Client.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// scriptHandler runs a test's function on each OnTraffic.
type scriptHandler struct {
	BaseHandler
	onTraffic func(c *Conn)
	onOpen    func(c *Conn)
}

func (h *scriptHandler) OnOpen(c *Conn) error {
	if h.onOpen != nil {
		h.onOpen(c)
	}
	return nil
}

func (h *scriptHandler) OnTraffic(c *Conn) { h.onTraffic(c) }

func TestTLSCoalescesACallbacksWrites(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	h := &scriptHandler{onTraffic: func(c *Conn) {
		c.Discard(c.Buffered())
		for i := 0; i < 100; i++ {
			c.Write([]byte("0123456789"))
		}
		c.WriteString("!")
		c.Writev([][]byte{[]byte("ab"), []byte("cd")})
	}}
	e, addr, _ := startTLS(t, h, pki.server())
	raw := &countConn{Conn: dialT(t, "tcp", addr)}
	cl := tls.Client(raw, pki.client(tls.VersionTLS13))
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The server's session tickets come first; wait for them to pass.
	if _, err := cl.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	before := raw.n.Load()
	got := make([]byte, 1005)
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(got, []byte("!abcd")) {
		t.Fatalf("got %q", got[len(got)-10:])
	}
	// Tickets and the answer: one record for the 102 writes is 1005 +
	// 22 bytes; a record each would be over 3,000.
	if wire := raw.n.Load() - before; wire > 1005+22+2*300 {
		t.Fatalf("%d bytes on the wire for 1005 bytes of plaintext written in 102 calls: not coalesced", wire)
	}
	var in, out, wireOut uint64
	for _, s := range e.Stats().Shards {
		in, out, wireOut = in+s.TLSPlainIn, out+s.TLSPlainOut, wireOut+s.BytesOut
	}
	if in != 2 || out != 1005 || wireOut <= out {
		t.Fatalf("stats: plaintext in %d, out %d, wire out %d; want 2, 1005 and more on the wire", in, out, wireOut)
	}
}

// TestTLSReleaseAfterCiphertextSent: AsyncWrite's done and WriteOwned's
// release run only once the kernel has taken the ciphertext of their
// bytes: not while a peer that does not read holds it back.
func TestTLSReleaseAfterCiphertextSent(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	var owned, async atomic.Int32
	handles := make(chan Handle, 1)
	h := &scriptHandler{onTraffic: func(c *Conn) {
		c.Discard(c.Buffered())
		if err := c.WriteOwned(payload[:4<<20], func(sent bool) {
			if sent {
				owned.Store(1)
			} else {
				owned.Store(2)
			}
		}); err != nil {
			t.Errorf("WriteOwned: %v", err)
		}
		hd, _ := c.Engine().Conn(c.ID())
		handles <- hd
	}}
	_, addr, _ := startTLS(t, h, pki.server(), WithSocketBuffers(64<<10, 64<<10))
	cl := dialTLS(t, addr, pki.client(tls.VersionTLS12))
	if _, err := cl.Write([]byte("start")); err != nil {
		t.Fatal(err)
	}
	hd := <-handles
	if err := hd.AsyncWrite(payload[4<<20:], func(err error) {
		if err == nil {
			async.Store(1)
		} else {
			async.Store(2)
		}
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if owned.Load() != 0 || async.Load() != 0 {
		t.Fatalf("released before the peer read: owned=%d async=%d", owned.Load(), async.Load())
	}
	got := make([]byte, len(payload))
	cl.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatal("payload differs")
	}
	if !waitFor(5*time.Second, func() bool { return owned.Load() == 1 && async.Load() == 1 }) {
		t.Fatalf("after the peer read all: owned=%d async=%d, want both released as sent", owned.Load(), async.Load())
	}
}

// TestTLSRefusesWhatBypassesIt: the calls that reach around the TLS layer
// are refused or inert, and the queued-output cap counts plaintext.
func TestTLSRefusesWhatBypassesIt(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	results := make(chan error, 8)
	h := &scriptHandler{onTraffic: func(c *Conn) {
		c.Discard(c.Buffered())
		results <- c.NotifyWritable()
		if c.Fd() != -1 {
			results <- errors.New("Fd on a TLS connection is not -1")
		} else {
			results <- nil
		}
		before := c.sh.bytesIn.Load()
		c.CountBytes(1000, 1000)
		if c.sh.bytesIn.Load() != before {
			results <- errors.New("CountBytes counted on a TLS connection")
		} else {
			results <- nil
		}
		_, err := c.Write(make([]byte, 2<<20)) // over the cap
		results <- err
		c.Write([]byte("ok"))
	}}
	_, addr, _ := startTLS(t, h, pki.server(), WithMaxQueuedOutput(1<<20), WithWatermarks(1<<19, 1<<20))
	cl := dialTLS(t, addr, pki.client(tls.VersionTLS13))
	got, err := roundTrip(cl, []byte("ok"), 5*time.Second)
	if err != nil || string(got) != "ok" {
		t.Fatalf("%q, %v", got, err)
	}
	if err := <-results; !errors.Is(err, ErrNotForTLS) {
		t.Errorf("NotifyWritable = %v, want ErrNotForTLS", err)
	}
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if err := <-results; !errors.Is(err, ErrOutputFull) {
		t.Errorf("a 2 MiB plaintext Write under a 1 MiB cap = %v, want ErrOutputFull", err)
	}
}

// TestTLSPauseWithRecordsWaiting: a handler that pauses reading after
// every OnTraffic, while decrypted records wait in the TLS layer, gets
// them all once it resumes, in order.
func TestTLSPauseWithRecordsWaiting(t *testing.T) {
	noLeaks(t)
	pki := newTestPKI(t)
	var mu sync.Mutex
	sum := sha256.New()
	var n int
	done := make(chan struct{})
	const total = 256 << 10
	h := &scriptHandler{onTraffic: func(c *Conn) {
		b, _ := c.Next(c.Buffered())
		mu.Lock()
		sum.Write(b)
		n += len(b)
		finished := n == total
		mu.Unlock()
		if finished {
			close(done)
			return
		}
		c.PauseRead()
		hd, _ := c.Engine().Conn(c.ID())
		time.AfterFunc(time.Millisecond, func() { hd.ResumeRead() })
	}}
	// A read buffer (and so a decrypt scratch) far smaller than a record:
	// each OnTraffic takes part of one, and the rest waits inside
	// crypto/tls and the wire while the handler is paused.
	_, addr, _ := startTLS(t, h, pki.server(), WithReadBufferSize(512))
	cl := dialTLS(t, addr, pki.client(tls.VersionTLS13))
	payload := make([]byte, total)
	rand.Read(payload)
	go cl.Write(payload)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d bytes arrived", n, total)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(sum.Sum(nil), sha256Sum(payload)) {
		t.Fatal("bytes differ")
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

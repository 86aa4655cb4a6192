package netconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/fdcheck"
)

// pattern returns n bytes that show a lost, doubled or reordered chunk.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}

// unread returns the input c holds for its readers.
func unread(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.in)
}

// TestLaggingReaderPausesShard: a peer sends 16 MiB to a connection nobody
// reads for a while; the shard stops reading it past WithMaxBuffered
// instead of buffering it all, the peer's writes stall, and when the
// reader catches up every byte arrives in order.
func TestLaggingReaderPausesShard(t *testing.T) {
	const maxBuffered = 64 << 10
	s := startServer(t, []Option{WithMaxBuffered(maxBuffered)})
	peer, ac := s.plainPair(t)
	c := ac.(*Conn)

	data := pattern(16 << 20)
	sent := make(chan error, 1)
	go func() {
		peer.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := peer.Write(data)
		sent <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("the peer wrote 16 MiB to a reader that read nothing (%v): no back-pressure", err)
	default:
	}
	// At most one read buffer (64 KiB) can land past the mark before the
	// shard stops reading.
	if n := unread(c); n > maxBuffered+64<<10 || n == 0 {
		t.Fatalf("%d bytes unread for a reader that lags; want 1..%d", n, maxBuffered+64<<10)
	}
	c.mu.Lock()
	paused := c.flow.Paused()
	c.mu.Unlock()
	if !paused {
		t.Fatal("the shard is not paused for the lagging reader")
	}
	ac.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, len(data))
	if _, err := io.ReadFull(ac, got); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes lost or reordered across pause and resume")
	}
	if err := <-sent; err != nil {
		t.Fatalf("peer Write: %v", err)
	}
}

// TestLargeWriteInChunks writes one b far larger than the write buffer
// and, in one case, than the engine's own queued-output cap.
func TestLargeWriteInChunks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []Option
		eopts []engine.Option
	}{
		{"small write buffer", []Option{WithWriteBuffer(16 << 10), WithWriteChunk(8 << 10)}, nil},
		{"engine cap under the chunk", nil, []engine.Option{engine.WithWatermarks(4<<10, 8<<10), engine.WithMaxQueuedOutput(16 << 10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts, tc.eopts...)
			peer, ac := s.plainPair(t)
			data := pattern(8 << 20)
			wrote := make(chan error, 1)
			go func() {
				ac.SetWriteDeadline(time.Now().Add(20 * time.Second))
				n, err := ac.Write(data)
				if err == nil && n != len(data) {
					err = io.ErrShortWrite
				}
				wrote <- err
			}()
			peer.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(data))
			if _, err := io.ReadFull(peer, got); err != nil {
				t.Fatalf("peer ReadFull: %v", err)
			}
			if err := <-wrote; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("bytes lost or reordered")
			}
		})
	}
}

// TestWriteDeadlineStalledPeer: a Write to a peer that does not read
// times out having queued exactly the n bytes it reports, and the
// connection goes on working.
func TestWriteDeadlineStalledPeer(t *testing.T) {
	s := startServer(t, []Option{WithWriteBuffer(64 << 10)})
	peer, ac := s.plainPair(t)
	data := pattern(64 << 20)
	ac.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := ac.Write(data)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n >= len(data) {
		t.Fatalf("Write to a stalled peer = %d, %v; want a part and a deadline error", n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%v: not a net.Error timeout", err)
	}
	ac.SetWriteDeadline(time.Time{})
	tail := []byte("-and the tail")
	done := make(chan error, 1)
	go func() {
		_, err := ac.Write(tail)
		done <- err
	}()
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, n+len(tail))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatalf("peer ReadFull: %v", err)
	}
	if !bytes.Equal(got[:n], data[:n]) || !bytes.Equal(got[n:], tail) {
		t.Fatal("the peer did not get the reported bytes and then the tail")
	}
	if err := <-done; err != nil {
		t.Fatalf("Write after the timeout: %v", err)
	}
}

// TestPeerResetMidRequest: the peer sends half a request and resets; the
// reader gets the half, then the reset.
func TestPeerResetMidRequest(t *testing.T) {
	s := startServer(t, nil)
	peer, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := acceptT(t, s.ln)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	peer.Write([]byte("GET /half"))
	ac.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := ac.Read(buf)
	if err != nil || string(buf[:n]) != "GET /half" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // RST
	n, err = ac.Read(buf)
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after the reset = %d, %v; want ECONNRESET", n, err)
	}
	if _, err := ac.Write([]byte("answer")); err == nil {
		t.Fatal("Write on a reset connection succeeded")
	}
}

// TestReadParkedWhenEngineStops: Stop wakes a parked Read and Write with
// an error; goleak (TestMain) checks that their goroutines are gone.
func TestReadParkedWhenEngineStops(t *testing.T) {
	base := fdcheck.Baseline(t)
	ln, e, err := Listen("tcp://127.0.0.1:0", []Option{WithWriteBuffer(4 << 10)}, engine.WithShards(1), engine.WithLingerTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := NewDialer(e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dc, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ac, err := acceptT(t, ln)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, errs[0] = ac.Read(make([]byte, 8))
	}()
	go func() {
		defer wg.Done()
		_, errs[1] = ac.Write(make([]byte, 64<<20)) // dc never reads
	}()
	time.Sleep(50 * time.Millisecond)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	e.Stop(stopCtx)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop left a Read or Write parked")
	}
	for i, err := range errs {
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("call %d after Stop = %v, want the connection's end", i, err)
		}
	}
	if _, err := ac.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Stop succeeded")
	}
	if _, err := dc.Write([]byte("x")); err == nil {
		t.Error("Write after Stop succeeded")
	}
	dc.Close()
	ac.Close()
	ln.Close()
	fdcheck.Check(t, base)
}

// TestDeadlinesRaceDataAndClose sets deadlines while bytes arrive and
// while Close runs, many times: every Read returns bytes, a timeout or
// net.ErrClosed, and the bytes read are the bytes sent, in order.
func TestDeadlinesRaceDataAndClose(t *testing.T) {
	s := startServer(t, nil)
	iters := 200
	if testing.Short() {
		iters = 30
	}
	for i := range iters {
		dc, ac := s.pair(t)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { // the sender
			defer wg.Done()
			for j := range 20 {
				if _, err := dc.Write([]byte{byte(j)}); err != nil {
					return
				}
			}
		}()
		go func() { // deadlines, some past, some near
			defer wg.Done()
			for j := range 20 {
				ac.SetReadDeadline(time.Now().Add(time.Duration(j%4-1) * 100 * time.Microsecond))
			}
		}()
		var got []byte
		go func() { // the reader, until Close
			defer wg.Done()
			buf := make([]byte, 4)
			for {
				n, err := ac.Read(buf)
				got = append(got, buf[:n]...)
				switch {
				case err == nil:
				case errors.Is(err, os.ErrDeadlineExceeded):
					if n != 0 {
						t.Errorf("a timeout with %d bytes", n)
					}
				case errors.Is(err, net.ErrClosed):
					return
				default:
					t.Errorf("iteration %d: Read = %v", i, err)
					return
				}
			}
		}()
		time.Sleep(time.Duration(i%5) * 100 * time.Microsecond)
		ac.Close()
		wg.Wait()
		for k, b := range got {
			if b != byte(k) {
				t.Fatalf("iteration %d: read %v, not the bytes in order", i, got)
			}
		}
		dc.Close()
	}
}

func TestAcceptQueueBound(t *testing.T) {
	s := startServer(t, []Option{WithBacklog(2)})
	var peers []net.Conn
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()
	for range 5 {
		p, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.ln.Refused() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r := s.ln.Refused(); r != 3 {
		t.Fatalf("Refused = %d, want 3 past a backlog of 2", r)
	}
	for range 2 {
		c, err := acceptT(t, s.ln)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// Refused peers read EOF; the accepted ones too, after Close.
	for _, p := range peers {
		p.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := p.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("peer read %v, want EOF", err)
		}
	}
	if err := s.ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
	if err := s.ln.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	// The listening socket is closed with the Listener: the kernel
	// refuses new connections.
	if nc, err := net.DialTimeout("tcp", s.addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("dial after Close = %v, want ECONNREFUSED", err)
	}
}

func TestAcceptParkedWokenByClose(t *testing.T) {
	s := startServer(t, nil)
	got := make(chan error, 1)
	go func() {
		_, err := s.ln.Accept()
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.ln.Close()
	select {
	case err := <-got:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Accept")
	}
}

func TestDialErrors(t *testing.T) {
	s := startServer(t, nil)
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.d.DialContext(ctx, "tcp", dead); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port = %v, want ECONNREFUSED", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.d.DialContext(canceled, "tcp", s.addr); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a canceled context = %v", err)
	}
	if _, err := s.d.DialContext(ctx, "udp", s.addr); err == nil {
		t.Error("dial udp succeeded")
	}
	if _, err := NewDialer(nil); !errors.Is(err, ErrNoEngine) {
		t.Errorf("NewDialer(nil) = %v", err)
	}
	if _, err := NewListener(WithBacklog(0)); err == nil {
		t.Error("NewListener(WithBacklog(0)) succeeded")
	}
}

package netconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestEchoBothWays(t *testing.T) {
	s := startServer(t, nil)
	dc, ac := s.pair(t)
	for _, tc := range []struct {
		name     string
		from, to net.Conn
	}{
		{"dialed to accepted", dc, ac},
		{"accepted to dialed", ac, dc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte("hello, shard")
			if n, err := tc.from.Write(msg); n != len(msg) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			got := make([]byte, len(msg))
			tc.to.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(tc.to, got); err != nil {
				t.Fatalf("ReadFull: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("read %q, want %q", got, msg)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	s := startServer(t, nil)
	dc, ac := s.pair(t)
	if dc.RemoteAddr().String() != s.addr {
		t.Errorf("dialed RemoteAddr = %v, want %v", dc.RemoteAddr(), s.addr)
	}
	if ac.LocalAddr().String() != s.addr {
		t.Errorf("accepted LocalAddr = %v, want %v", ac.LocalAddr(), s.addr)
	}
	if dc.LocalAddr().String() != ac.RemoteAddr().String() {
		t.Errorf("dialed LocalAddr %v != accepted RemoteAddr %v", dc.LocalAddr(), ac.RemoteAddr())
	}
	if _, ok := dc.LocalAddr().(*net.TCPAddr); !ok {
		t.Errorf("LocalAddr is %T, want *net.TCPAddr", dc.LocalAddr())
	}
	if dc.LocalAddr().Network() != "tcp" {
		t.Errorf("Network() = %q", dc.LocalAddr().Network())
	}
}

func TestReadDeadlineLeavesConnUsable(t *testing.T) {
	s := startServer(t, nil)
	dc, ac := s.pair(t)
	dc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err := dc.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %d, %v; want 0 and a deadline error", n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v is not a net.Error with Timeout()", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("Read gave up after %v, before its deadline", d)
	}
	// Usable afterwards: a new deadline, then bytes.
	dc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ac.Write([]byte("x"))
	buf := make([]byte, 8)
	if n, err := dc.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
		t.Fatalf("Read after timeout = %d, %v", n, err)
	}
}

func TestPastDeadlineWakesParkedRead(t *testing.T) {
	s := startServer(t, nil)
	dc, _ := s.pair(t)
	got := make(chan error, 1)
	go func() {
		_, err := dc.Read(make([]byte, 8))
		got <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it park
	dc.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-got:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a past deadline did not wake the parked Read")
	}
	// A past deadline fails at once, with n = 0, even with input there.
	dc.SetReadDeadline(time.Time{})
}

func TestPastDeadlineFailsAtOnceWithInput(t *testing.T) {
	s := startServer(t, nil)
	dc, ac := s.pair(t)
	ac.Write([]byte("data"))
	dc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := dc.Read(b); err != nil {
		t.Fatal(err)
	}
	dc.SetReadDeadline(time.Now().Add(-time.Second))
	if n, err := dc.Read(b); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with past deadline = %d, %v", n, err)
	}
	dc.SetWriteDeadline(time.Now().Add(-time.Second))
	if n, err := dc.Write(b); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write with past deadline = %d, %v", n, err)
	}
	dc.SetDeadline(time.Time{})
	rest := make([]byte, 3)
	if _, err := io.ReadFull(dc, rest); err != nil || string(rest) != "ata" {
		t.Fatalf("the rest = %q, %v", rest, err)
	}
}

func TestCloseWakesAndRepeats(t *testing.T) {
	s := startServer(t, []Option{WithWriteBuffer(4 << 10)})
	dc, _ := s.pair(t)
	readErr := make(chan error, 1)
	go func() {
		_, err := dc.Read(make([]byte, 8))
		readErr <- err
	}()
	// A writer the peer never reads: it parks above the write buffer.
	writeErr := make(chan error, 1)
	go func() {
		big := make([]byte, 64<<20)
		_, err := dc.Write(big)
		writeErr <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := dc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, ch := range map[string]chan error{"Read": readErr, "Write": writeErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s after Close = %v, want net.ErrClosed", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Close did not wake the parked %s", name)
		}
	}
	if err := dc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
	if _, err := dc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if err := dc.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetDeadline after Close = %v", err)
	}
}

func TestCloseWriteHalfCloses(t *testing.T) {
	s := startServer(t, nil)
	dc, ac := s.pair(t)
	dc.Write([]byte("request"))
	if err := dc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	ac.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(ac)
	if err != nil || string(got) != "request" {
		t.Fatalf("peer read %q, %v; want the bytes, then EOF", got, err)
	}
	// The other way still works.
	ac.Write([]byte("answer"))
	ac.Close()
	dc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err = io.ReadAll(dc)
	if err != nil || string(got) != "answer" {
		t.Fatalf("after CloseWrite read %q, %v", got, err)
	}
	if _, err := dc.Write([]byte("x")); err == nil {
		t.Fatal("Write after CloseWrite succeeded")
	}
}

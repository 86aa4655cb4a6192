package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/fdcheck"
)

// stopT stops e within 10 s, failing the test if it cannot.
func stopT(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestListenFilesHandover hands an engine's listening sockets to a second
// engine with another shard count, in each mode, as a restart does: the
// new one serves the same address, the old one's Unlisten refuses nobody
// (the sockets live on in the new engine) and its open connections carry
// on.
func TestListenFilesHandover(t *testing.T) {
	tests := []struct {
		name         string
		oldOpts      []Option
		newOpts      []Option
		wantFiles    int
		wantAccepted int // acceptors of the new engine's listener
	}{
		{name: "acceptor", oldOpts: []Option{WithShards(2)}, newOpts: []Option{WithShards(3)}, wantFiles: 1, wantAccepted: 1},
		{name: "reuseport-3-to-2", oldOpts: []Option{WithShards(3), WithReusePort(true)}, newOpts: []Option{WithShards(2), WithReusePort(true)}, wantFiles: 3, wantAccepted: 3},
		{name: "reuseport-2-to-4", oldOpts: []Option{WithShards(2), WithReusePort(true)}, newOpts: []Option{WithShards(4), WithReusePort(true)}, wantFiles: 2, wantAccepted: 4},
		{name: "reuseport-to-acceptor", oldOpts: []Option{WithShards(2), WithReusePort(true)}, newOpts: []Option{WithShards(2)}, wantFiles: 2, wantAccepted: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := fdcheck.Baseline(t)
			t.Cleanup(func() { fdcheck.Check(t, base) })
			old, err := New(echoHandler{}, tc.oldOpts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stopT(t, old) })
			addr, err := old.Listen("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			before := dialT(t, "tcp", addr.String())
			if !echoCheck(t, before, 1) {
				t.Fatal("no echo from the old engine")
			}
			files, err := old.ListenerFiles()
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tc.wantFiles {
				t.Fatalf("ListenerFiles gave %d files, want %d", len(files), tc.wantFiles)
			}
			for _, f := range files {
				if f.Name() != "tcp://"+addr.String() {
					t.Errorf("file named %q, want tcp://%s", f.Name(), addr)
				}
			}
			next, err := New(echoHandler{}, tc.newOpts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stopT(t, next) })
			got, err := next.ListenFiles(files)
			for _, f := range files {
				f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != addr.String() {
				t.Fatalf("the new engine serves %v, want %v", got, addr)
			}
			next.mu.Lock()
			n := len(next.listeners[0].acceptors)
			next.mu.Unlock()
			if n != tc.wantAccepted {
				t.Errorf("the new engine watches %d sockets, want %d", n, tc.wantAccepted)
			}
			if err := old.Unlisten(addr); err != nil {
				t.Fatal(err)
			}
			// Every new connection now lands on the new engine, on the
			// socket the old one opened: none is refused.
			for i := 0; i < 8; i++ {
				if !echoCheck(t, dialT(t, "tcp", addr.String()), 10+i) {
					t.Fatal("no echo after the hand-over")
				}
			}
			var opened uint64
			for _, s := range next.Stats().Shards {
				opened += s.Opened
			}
			if opened < 8 {
				t.Errorf("the new engine opened %d connections, want 8", opened)
			}
			if !echoCheck(t, before, 2) {
				t.Fatal("a connection of the old engine stopped after its Unlisten")
			}
		})
	}
}

// TestListenFilesUnix hands over a unix socket: the old engine's Unlisten
// leaves the path in place for the new one, and the new one, which did
// not create it, leaves it at Stop too.
func TestListenFilesUnix(t *testing.T) {
	base := fdcheck.Baseline(t)
	t.Cleanup(func() { fdcheck.Check(t, base) })
	sock := filepath.Join(t.TempDir(), "h.sock")
	old, err := New(echoHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopT(t, old) })
	addr, err := old.Listen("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	files, err := old.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	next, err := New(echoHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopT(t, next) })
	_, err = next.ListenFiles(files)
	files[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Unlisten(addr); err != nil {
		t.Fatal(err)
	}
	nc := dialT(t, "unix", sock)
	if !echoCheck(t, nc, 1) {
		t.Fatal("no echo over the handed-over unix socket")
	}
	nc.Close()
	stopT(t, next)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the socket's path after both engines let go: %v", err)
	}
}

// TestListenFilesRejects: what is not one listening stream socket is
// refused with ErrNotListener, and nothing is left open.
func TestListenFilesRejects(t *testing.T) {
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln1.Close()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	file := func(v interface{ File() (*os.File, error) }) *os.File {
		f, err := v.File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	conn, err := net.Dial("tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	regular, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	l1, l2 := file(ln1.(*net.TCPListener)), file(ln2.(*net.TCPListener))
	tests := []struct {
		name  string
		files []*os.File
	}{
		{name: "none"},
		{name: "regular-file", files: []*os.File{regular}},
		{name: "udp", files: []*os.File{file(udp.(*net.UDPConn))}},
		{name: "connected-tcp", files: []*os.File{file(conn.(*net.TCPConn))}},
		{name: "two-addresses", files: []*os.File{l1, l2}},
	}
	e, err := New(echoHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopT(t, e) })
	base := fdcheck.Count(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.ListenFiles(tc.files); !errors.Is(err, ErrNotListener) {
				t.Fatalf("ListenFiles = %v, want ErrNotListener", err)
			}
			fdcheck.Check(t, base)
		})
	}
	if n := len(e.Addrs()); n != 0 {
		t.Fatalf("the engine serves %d addresses after only refusals", n)
	}
	// The same engine adopts a real one, and clients reach it.
	addr, err := e.ListenFiles([]*os.File{l1})
	if err != nil {
		t.Fatal(err)
	}
	ln1.Close() // the engine serves its own duplicate
	if !echoCheck(t, dialT(t, "tcp", addr.String()), 1) {
		t.Fatal("no echo over an adopted socket")
	}
}

// TestListenerFilesAfterStop: nothing to hand over from a stopped engine.
func TestListenerFilesAfterStop(t *testing.T) {
	e, err := New(echoHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	stopT(t, e)
	if _, err := e.ListenerFiles(); !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("ListenerFiles after Stop = %v, want ErrEngineStopped", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.ListenFiles([]*os.File{f}); !errors.Is(err, ErrEngineStopped) {
		t.Fatalf("ListenFiles after Stop = %v, want ErrEngineStopped", err)
	}
}

// TestListenFilesTLS: a TLS server's sockets, handed over, are served with
// the TLS its new owner passes to ListenFiles (a socket carries none of
// its own), and a bad TLS option is refused before any fd is taken.
func TestListenFilesTLS(t *testing.T) {
	base := fdcheck.Baseline(t)
	t.Cleanup(func() { fdcheck.Check(t, base) })
	pki := newTestPKI(t, "localhost")
	old, err := New(echoHandler{}, WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopT(t, old) })
	addr, err := old.Listen("tcp://127.0.0.1:0", ListenTLS(pki.server()))
	if err != nil {
		t.Fatal(err)
	}
	files, err := old.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	next, err := New(echoHandler{}, WithShards(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopT(t, next) })
	if _, err := next.ListenFiles(files, ListenTLS(&tls.Config{})); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("ListenFiles with a certificate-less TLS config = %v, want ErrInvalidOption", err)
	}
	if _, err := next.ListenFiles(files, ListenTLS(pki.server())); err != nil {
		t.Fatal(err)
	}
	if err := old.Unlisten(addr); err != nil {
		t.Fatal(err)
	}
	tc := dialTLS(t, addr.String(), pki.client(tls.VersionTLS13))
	msg := []byte("over the handed-over socket")
	if _, err := tc.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo %q, %v; want %q", got, err, msg)
	}
}

package engine

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestUnlisten: closing one listener refuses new connections on its
// address (and removes a unix socket's path) while the engine's other
// listener and the connections already open carry on.
func TestUnlisten(t *testing.T) {
	e, addr := startEngine(t, echoHandler{}, WithShards(2))
	sock := filepath.Join(t.TempDir(), "u.sock")
	ua, err := e.Listen("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	open := dialT(t, "tcp", addr)
	if !echoCheck(t, open, 1) {
		t.Fatal("no echo before Unlisten")
	}
	var ta net.Addr
	for _, a := range e.Addrs() {
		if a.String() == addr {
			ta = a
		}
	}
	if err := e.Unlisten(ta); err != nil {
		t.Fatal(err)
	}
	if nc, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("dial after Unlisten = %v, want ECONNREFUSED", err)
	}
	if !echoCheck(t, open, 2) {
		t.Fatal("an open connection stopped echoing after Unlisten")
	}
	if !echoCheck(t, dialT(t, "unix", sock), 3) {
		t.Fatal("the other listener stopped serving")
	}
	if err := e.Unlisten(ta); !errors.Is(err, ErrUnknownListener) {
		t.Fatalf("second Unlisten = %v, want ErrUnknownListener", err)
	}
	if err := e.Unlisten(ua); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unix socket path after Unlisten: %v", err)
	}
	if n := len(e.Addrs()); n != 0 {
		t.Fatalf("Addrs lists %d after both Unlistens", n)
	}
}

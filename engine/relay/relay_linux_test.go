package relay

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// TestRelayEchoManyClients relays random bytes to an echo backend and back
// for several concurrent clients, each half-closing when it has sent all,
// and checks every byte, both relay paths.
func TestRelayEchoManyClients(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.name, func(t *testing.T) {
			checkFds(t)
			be := startBackend(t, echo)
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice))
			const clients, size = 8, 3 << 20
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					data := make([]byte, size)
					rand.NewChaCha8([32]byte{byte(i)}).Read(data)
					c := dial(t, p.addr)
					go func() {
						c.Write(data)
						c.CloseWrite()
					}()
					got, err := io.ReadAll(c)
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, data) {
						errs <- io.ErrUnexpectedEOF
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("client: %v", err)
			}
			st := p.px.Stats()
			if st.Clients != clients || st.Relayed != clients || st.BytesUp != clients*size || st.BytesDown != clients*size {
				t.Fatalf("stats %+v, want %d clients relayed, %d bytes each way", st, clients, clients*size)
			}
			if mode.splice && st.Spliced == 0 {
				t.Fatalf("splice mode spliced nothing: %+v", st)
			}
			if !mode.splice && st.Spliced != 0 {
				t.Fatalf("copy mode spliced %d bytes", st.Spliced)
			}
			waitFor(t, 5e9, "pairs to end", func() bool { return p.px.Stats().Active == 0 })
			t.Logf("%s: %+v", mode.name, st)
		})
	}
}

// TestRelayToUnixBackend relays to a backend on a unix socket, both paths
// (splice falls back to copy where the kernel cannot splice the socket).
func TestRelayToUnixBackend(t *testing.T) {
	for _, mode := range spliceModes {
		t.Run(mode.name, func(t *testing.T) {
			checkFds(t)
			path := filepath.Join(t.TempDir(), "backend.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				copyPlain(c, c)
				c.(*net.UnixConn).CloseWrite()
			}()
			t.Cleanup(func() { ln.Close(); <-done })
			p := startProxy(t, WithPool(mustPool(t, []string{"unix://" + path})), WithSplice(mode.splice))
			data := make([]byte, 4<<20)
			rand.NewChaCha8([32]byte{'u'}).Read(data)
			c := dial(t, p.addr)
			go func() {
				c.Write(data)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("echo through a unix backend: %d of %d bytes, equal %v, %v", len(got), len(data), bytes.Equal(got, data), err)
			}
			t.Logf("%s: %+v", mode.name, p.px.Stats())
		})
	}
}

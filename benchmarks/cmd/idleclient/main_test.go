package main

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestOneRequest runs oneRequest against net/http servers that answer
// as the benchmark's do, and as it must refuse.
func TestOneRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		ok      bool
	}{
		{"keep-alive 200", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Hello, World!") }, true},
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, false},
		{"closes after", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: tc.handler}
			go srv.Serve(ln)
			defer srv.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := oneRequest(c, request(0)); (err == nil) != tc.ok {
				t.Fatalf("oneRequest = %v, want success %v", err, tc.ok)
			}
			if tc.ok { // the connection is still good for another request
				if err := oneRequest(c, request(0)); err != nil {
					t.Fatalf("second request: %v", err)
				}
			}
		})
	}
}

// TestTLSRequestWithBody: -tls -http -body over a verified TLS 1.3
// connection with X25519; the server gets the whole body, and the
// connection stays good for another request.
func TestTLSRequestWithBody(t *testing.T) {
	const size = 16 << 10
	got := make(chan int, 2)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- int(n)
		io.WriteString(w, "Hello, World!")
	}))
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := srv.Listener.Addr().String()
	cfg, err := clientTLS(ca, addr)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(nc, cfg)
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if st := c.ConnectionState(); st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519 {
		t.Fatalf("version %x curve %v, want TLS 1.3 with X25519", st.Version, st.CurveID)
	}
	for i := 0; i < 2; i++ {
		if err := oneRequest(c, request(size)); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if n := <-got; n != size {
			t.Fatalf("request %d: the server read a %d-byte body, want %d", i+1, n, size)
		}
	}
	if _, err := clientTLS("", addr); err == nil {
		t.Fatal("clientTLS without an authority: want an error (verification is not skipped)")
	}
}

// TestOneEcho runs oneEcho against a server that echoes and one that
// answers another byte.
func TestOneEcho(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(b byte) byte
		ok    bool
	}{
		{"echo", func(b byte) byte { return b }, true},
		{"wrong byte", func(b byte) byte { return b + 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				var b [1]byte
				if _, err := io.ReadFull(c, b[:]); err == nil {
					c.Write([]byte{tc.reply(b[0])})
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := oneEcho(c); (err == nil) != tc.ok {
				t.Fatalf("oneEcho = %v, want success %v", err, tc.ok)
			}
			<-done
		})
	}
}

package main

import (
	"io"
	"net"
	"net/http"
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
			if err := oneRequest(c); (err == nil) != tc.ok {
				t.Fatalf("oneRequest = %v, want success %v", err, tc.ok)
			}
			if tc.ok { // the connection is still good for another request
				if err := oneRequest(c); err != nil {
					t.Fatalf("second request: %v", err)
				}
			}
		})
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

//go:build linux

package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoThrough sends size random bytes through nc and reads the echo back,
// checking both by sha256.
func echoThrough(t *testing.T, nc net.Conn, size int) {
	t.Helper()
	payload := make([]byte, size)
	rand.Read(payload)
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	errc := make(chan error, 1)
	go func() {
		_, err := nc.Write(payload)
		errc <- err
	}()
	h := sha256.New()
	if n, err := io.CopyN(h, nc, int64(size)); err != nil {
		t.Fatalf("read %d of %d echoed bytes: %v", n, size, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if want := sha256.Sum256(payload); string(h.Sum(nil)) != string(want[:]) {
		t.Fatal("the echo's sha256 differs from what was sent")
	}
}

func TestProxyTLS(t *testing.T) {
	size := 100 << 20 // the transfer; 8 MiB under the race detector
	if raceEnabled {
		size = 8 << 20
	}
	caFile, certFile, keyFile := writePKI(t)
	clientCfg := clientConfig(t, caFile)
	plainEcho := startServer(t, "echo", "-addr", "127.0.0.1:0")
	tlsEcho := startServer(t, "echo", "-addr", "127.0.0.1:0", "-tls", certFile+","+keyFile)
	_, tlsEchoPort, _ := strings.Cut(tlsEcho.addr, ":")

	for _, tc := range []struct {
		name      string
		backend   string
		args      []string
		clientTLS bool
	}{
		{"terminate", plainEcho.addr, []string{"-tls", certFile + "," + keyFile}, true},
		{"originate", "localhost:" + tlsEchoPort, []string{"-backend-tls", "-backend-ca", caFile}, false},
		{"both", "localhost:" + tlsEchoPort, []string{"-tls", certFile + "," + keyFile, "-backend-tls", "-backend-ca", caFile}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, logs := startProxy(t, []string{tc.backend}, tc.args...)
			nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if tc.clientTLS {
				nc = tls.Client(nc, clientCfg)
			}
			echoThrough(t, nc, size)
			nc.Close()
			p.stop(t)
			if s := logs.String(); strings.Contains(s, "no backend answered") {
				t.Fatalf("proxy log: %s", s)
			}
		})
	}
	t.Run("a backend that fails verification", func(t *testing.T) {
		p, logs := startProxy(t, []string{"localhost:" + tlsEchoPort}, "-backend-tls") // the system's roots
		nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatal("relayed to a backend whose certificate is not trusted")
		}
		nc.Close()
		p.stop(t)
		if s := logs.String(); !strings.Contains(s, "unknown authority") {
			t.Fatalf("proxy log does not say why: %s", s)
		}
	})
	runDispatchCases(t, []string{"proxy"}, []dispatchCase{
		{name: "splice with TLS", args: []string{"-backend", plainEcho.addr, "-splice", "-tls-self-signed"}, wantCode: 2, wantErr: "-splice cannot carry TLS"},
		{name: "backend CA without backend TLS", args: []string{"-backend", plainEcho.addr, "-backend-ca", caFile}, wantCode: 2, wantErr: "need -backend-tls"},
	})
	tlsEcho.stop(t)
	plainEcho.stop(t)
}

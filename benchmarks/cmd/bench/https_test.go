package main

import (
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testTLSFiles makes the run's certificate files in a temporary bin.
func testTLSFiles(t *testing.T) *tlsFiles {
	t.Helper()
	d := &driver{bin: t.TempDir()}
	f, err := d.httpsFiles()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := d.httpsFiles(); again != f {
		t.Fatal("httpsFiles made a second certificate")
	}
	return f
}

// TestHTTPSConfigs: nginx and HAProxy accept the configurations the
// driver writes (nginx -t, haproxy -c), with the run's certificate.
func TestHTTPSConfigs(t *testing.T) {
	f := testTLSFiles(t)
	tests := []struct {
		tool string
		conf func(dir string) string
		argv func(conf string) []string
	}{
		{"nginx", func(dir string) string { return nginxHTTPSConfig("127.0.0.1:8443", dir, f) },
			func(conf string) []string { return []string{"-t", "-c", conf} }},
		{"haproxy", func(string) string { return haproxyHTTPSConfig("127.0.0.1:8443", f) },
			func(conf string) []string { return []string{"-c", "-f", conf} }},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			tool, err := toolPath(tc.tool)
			if err != nil {
				t.Skipf("%v (.ci/run installs it)", err)
			}
			dir := t.TempDir()
			conf := filepath.Join(dir, tc.tool+".conf")
			if err := os.WriteFile(conf, []byte(tc.conf(dir)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tool, tc.argv(conf)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s rejects its config: %v\n%s", tc.tool, err, out)
			}
		})
	}
}

// TestCheckHTTPS: the check passes a server that negotiates what every
// HTTPS peer must (TLS 1.3, X25519, AES-128-GCM, the P-256 certificate)
// and answers the three requests, and fails one whose answers are wrong.
func TestCheckHTTPS(t *testing.T) {
	f := testTLSFiles(t)
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	answer := "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!"
	tests := []struct {
		name, answers string
		ok            bool
	}{
		{"three answers", strings.Repeat(answer, 3), true},
		{"two answers", strings.Repeat(answer, 2), false},
		{"wrong body", strings.Repeat(strings.Replace(answer, "World", "there", 1), 3), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
				CurvePreferences: []tls.CurveID{tls.X25519}})
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				got := ""
				for strings.Count(got, "\r\n\r\n") < 3 {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got += string(buf[:n])
				}
				io.WriteString(c, tc.answers)
			}()
			err = checkHTTPS(ln.Addr().String(), f.ca)
			<-done
			if (err == nil) != tc.ok {
				t.Fatalf("checkHTTPS: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestCheckHTTPSRefusesOtherCurves: a server that cannot do X25519 fails
// the handshake (the client offers nothing else), so no run measures
// another key exchange.
func TestCheckHTTPSRefusesOtherCurves(t *testing.T) {
	f := testTLSFiles(t)
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		CurvePreferences: []tls.CurveID{tls.CurveP256}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	if err := checkHTTPS(ln.Addr().String(), f.ca); err == nil {
		t.Fatal("checkHTTPS passed a server without X25519")
	}
}

package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// httpWho answers each HTTP request with the client's address as the
// connection sees it (RemoteAddr), then closes: a server behind a
// balancer that logs who called.
type httpWho struct{ BaseHandler }

func (httpWho) OnTraffic(c *Conn) {
	b, _ := c.Peek(c.Buffered())
	if !bytes.Contains(b, []byte("\r\n\r\n")) {
		return // the head is not whole yet
	}
	c.Discard(len(b))
	body := c.RemoteAddr().String()
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.Close()
}

// runHAProxy runs haproxy in the foreground with cfg, in which "{PORT}"
// becomes a free loopback port, and returns that port's address once it
// accepts. Cleanup stops it.
func runHAProxy(t *testing.T, cfg string) string {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Fatalf("haproxy is not installed (.ci/run installs it): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(cfg, "{PORT}", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s: %v", addr, err)
		}
	}
}

// curlWho runs curl with args against url and returns the body and curl's
// own address, "ip:port".
func curlWho(t *testing.T, url string, args ...string) (body, local string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is not installed (.ci/run installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append([]string{"-sS", "--max-time", "10", "-w", "|%{local_ip}:%{local_port}"}, args...)
	out, err := exec.CommandContext(ctx, "curl", append(args, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	body, local, ok := strings.Cut(string(out), "|")
	if !ok {
		t.Fatalf("curl printed %q", out)
	}
	return body, local
}

// TestProxyListenBehindHAProxy puts HAProxy in TCP mode with send-proxy
// and send-proxy-v2 (with its CRC32C and unique-ID TLVs) in front of a
// PROXY listener, plaintext and TLS: curl, through HAProxy, must read back
// its own address and port as the engine's RemoteAddr, not HAProxy's.
func TestProxyListenBehindHAProxy(t *testing.T) {
	ca, err := tlscert.NewAuthority("shardnet haproxy test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _ := startEngine(t, httpWho{})
	plain, err := e.Listen("tcp://127.0.0.1:0", ListenProxyProto(true))
	if err != nil {
		t.Fatal(err)
	}
	secure, err := e.Listen("tcp://127.0.0.1:0", ListenProxyProto(true), ListenTLS(&tls.Config{Certificates: []tls.Certificate{leaf}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, server string
		tls          bool
	}{
		{"send-proxy", "send-proxy", false},
		{"send-proxy-v2", "send-proxy-v2", false},
		{"send-proxy-v2 with TLVs", "send-proxy-v2 proxy-v2-options crc32c,unique-id", false},
		{"send-proxy, TLS", "send-proxy", true},
		{"send-proxy-v2, TLS", "send-proxy-v2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, scheme, args := plain, "http", []string(nil)
			if tc.tls {
				target, scheme, args = secure, "https", []string{"--cacert", caFile}
			}
			hp := runHAProxy(t, fmt.Sprintf(`global
    maxconn 64
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{PORT}
    unique-id-format %%{+X}o\ %%ci:%%cp
    default_backend be
backend be
    server s1 %s %s
`, target, tc.server))
			for range 3 {
				got, local := curlWho(t, scheme+"://"+hp+"/", args...)
				if got != local {
					t.Fatalf("the engine saw the client as %q; curl was %q", got, local)
				}
				t.Logf("the engine saw %s, curl was %s", got, local)
			}
		})
	}
}

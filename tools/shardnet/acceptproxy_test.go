//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// proxyFailedRe finds the count of connections closed for their PROXY
// header in the exit stats.
var proxyFailedRe = regexp.MustCompile(`proxy-failed=(\d+)`)

// haproxyInFront returns the configuration of HAProxy in TCP mode relaying
// to target with the server options (send-proxy, send-proxy-v2).
func haproxyInFront(target, server string) string {
	return haproxyDefaults + fmt.Sprintf(`
frontend fe
    mode tcp
    bind 127.0.0.1:{PORT}
    default_backend be
backend be
    mode tcp
    server s1 %s %s
`, target, server)
}

// TestEchoAcceptProxy runs "shardnet echo -accept-proxy" behind HAProxy's
// send-proxy and send-proxy-v2: the echo comes back through HAProxy (the
// server took the header off), and a client that reaches the server
// directly, without a header, is closed unanswered and counted.
func TestEchoAcceptProxy(t *testing.T) {
	s := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "2", "-accept-proxy")
	if !strings.Contains(s.line, "accept-proxy") {
		t.Fatalf("the start-up line does not say accept-proxy: %q", s.line)
	}
	for _, v := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(v, func(t *testing.T) {
			hp := startHAProxy(t, haproxyInFront(s.addr, v))
			c, err := net.Dial("tcp", hp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			for i := range 3 {
				msg := fmt.Sprintf("line %d through haproxy\n", i)
				c.Write([]byte(msg))
				got, err := r.ReadString('\n')
				if err != nil || got != msg {
					t.Fatalf("echo %q, %v; want %q", got, err, msg)
				}
			}
		})
	}
	direct, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	direct.Write([]byte("no header here\n"))
	direct.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := direct.Read(make([]byte, 64)); err == nil {
		t.Fatalf("a client without a header got %d bytes back", n)
	}
	direct.Close()
	out := s.stop(t)
	m := proxyFailedRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no proxy-failed count in the exit stats:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Fatalf("proxy-failed=%d; the headerless client was not counted\n%s", n, out)
	}
}

// TestHTTPSAcceptProxy puts HAProxy in TCP mode with send-proxy in front of
// "shardnet http -tls -accept-proxy": curl --cacert through HAProxy gets
// its answer over TLS, the header having come first on the wire.
func TestHTTPSAcceptProxy(t *testing.T) {
	caFile, certFile, keyFile := writePKI(t)
	s := startHTTP(t, "-tls", certFile+","+keyFile, "-accept-proxy")
	for _, v := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(v, func(t *testing.T) {
			hp := startHAProxy(t, haproxyInFront(s.addr, v))
			out := runCurl(t, "-sv", "--cacert", caFile, "https://"+hp+"/plaintext")
			for _, w := range []string{"SSL connection using TLSv1.3", "Hello, World!"} {
				if !strings.Contains(out, w) {
					t.Errorf("curl output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	s.stop(t)
}

// TestProxyAcceptAndSendProxy chains curl -> HAProxy (send-proxy-v2) ->
// "shardnet proxy -accept-proxy -send-proxy v1|v2" -> HAProxy
// (accept-proxy, answering %[src]:%[src_port]): the client's address
// crosses both hops, read from one header and written into the next, and
// curl reads back its own address and port.
func TestProxyAcceptAndSendProxy(t *testing.T) {
	needTool(t, "curl")
	back := startHAProxy(t, haproxyDefaults+`
frontend echo_src
    mode http
    bind 127.0.0.1:{PORT} accept-proxy
    http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port]"
`)
	for _, v := range []string{"v1", "v2"} {
		for _, mode := range proxyModes {
			t.Run(v+"/"+mode.name, func(t *testing.T) {
				p, _ := startProxy(t, []string{back}, append([]string{"-accept-proxy", "-send-proxy", v}, mode.args...)...)
				front := startHAProxy(t, haproxyInFront(p.addr, "send-proxy-v2"))
				for range 3 {
					out := runClient(t, "", "curl", "-sS", "--max-time", "10", "-w", "|%{local_ip}:%{local_port}", "http://"+front+"/")
					got, local, ok := strings.Cut(out, "|")
					if !ok || got != local {
						t.Fatalf("the last HAProxy saw the client as %q; curl was %q", got, local)
					}
				}
				p.stop(t)
			})
		}
	}
}

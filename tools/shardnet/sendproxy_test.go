//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/codec/proxyproto"
)

// startHAProxy runs haproxy in the foreground with the configuration cfg
// (in which every "{PORT}" becomes a free loopback port), waits until it
// accepts on that port, and returns the port's address. Cleanup stops it.
func startHAProxy(t *testing.T, cfg string) string {
	t.Helper()
	needTool(t, "haproxy")
	addr := freeAddr(t)
	_, port := hostPort(addr)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(cfg, "{PORT}", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const haproxyDefaults = `global
    maxconn 64
    nbthread 1
defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s
`

// TestSendProxyToHAProxy puts HAProxy with accept-proxy behind "shardnet
// proxy -send-proxy v1|v2" and asks it, with curl, where the request came
// from: HAProxy answers with the source address and port it read from the
// header, which must be curl's own.
func TestSendProxyToHAProxy(t *testing.T) {
	needTool(t, "curl")
	hp := startHAProxy(t, haproxyDefaults+`
frontend echo_src
    mode http
    bind 127.0.0.1:{PORT} accept-proxy
    http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port]"
`)
	for _, v := range []string{"v1", "v2"} {
		for _, mode := range proxyModes {
			t.Run(v+"/"+mode.name, func(t *testing.T) {
				p, _ := startProxy(t, []string{hp}, append([]string{"-send-proxy", v}, mode.args...)...)
				for range 3 {
					// curl prints HAProxy's answer, then its own end of the
					// connection.
					out := runClient(t, "", "curl", "-sS", "--max-time", "10", "-w", "|%{local_ip}:%{local_port}", "http://"+p.addr+"/")
					got, local, ok := strings.Cut(out, "|")
					if !ok || got != local {
						t.Fatalf("HAProxy saw the client as %q; curl was %q", got, local)
					}
					t.Logf("HAProxy saw %s, curl was %s", got, local)
				}
				p.stop(t)
			})
		}
	}
}

// TestParseHAProxySendProxy reads what HAProxy's send-proxy and
// send-proxy-v2 (with its CRC32C and unique-ID TLVs) put before a
// connection, with codec/proxyproto, as a receiver would: the header must
// name the client's address and port and HAProxy's listening address, and
// the client's bytes must follow it intact.
func TestParseHAProxySendProxy(t *testing.T) {
	for _, tc := range []struct {
		name, server string
		version      int
		tlvs         bool // the header must carry TLVs after the addresses
	}{
		{"send-proxy", "send-proxy", 1, false},
		{"send-proxy-v2", "send-proxy-v2", 2, false},
		{"send-proxy-v2 with crc32c and unique-id", "send-proxy-v2 proxy-v2-options crc32c,unique-id", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			hp := startHAProxy(t, haproxyDefaults+fmt.Sprintf(`
frontend fe
    mode tcp
    bind 127.0.0.1:{PORT}
    unique-id-format %%{+X}o\ %%ci:%%cp
    default_backend be
backend be
    mode tcp
    server s1 %s %s
`, ln.Addr(), tc.server))
			type result struct {
				h    proxyproto.Header
				n    int
				rest []byte
				err  error
			}
			results := make(chan result, 1)
			skipped := make(chan error, 64)
			go func() {
				// The probe that found HAProxy listening is relayed too, and
				// HAProxy may reset it: take the connection that carries the
				// test's bytes, and keep why the others did not count.
				for {
					c, err := ln.Accept()
					if err != nil {
						return // the listener closed at cleanup
					}
					c.SetDeadline(time.Now().Add(10 * time.Second))
					h, n, rest, err := readHeader(c)
					if err == nil {
						var more []byte
						more, err = io.ReadAll(c)
						rest = append(rest, more...)
					}
					c.Close()
					if err != nil || len(rest) == 0 {
						select {
						case skipped <- fmt.Errorf("a connection with %v: %q, %v", h, rest, err):
						default:
						}
						continue
					}
					results <- result{h, n, rest, nil}
					return
				}
			}()
			c, err := net.Dial("tcp", hp)
			if err != nil {
				t.Fatal(err)
			}
			payload := "hello through haproxy\n"
			c.Write([]byte(payload))
			c.(*net.TCPConn).CloseWrite()
			var r result
			select {
			case r = <-results:
			case <-time.After(10 * time.Second):
				close(skipped)
				for err := range skipped {
					t.Log(err)
				}
				t.Fatal("no connection from HAProxy carried a header and the client's bytes")
			}
			c.Close()
			want := proxyproto.Header{Version: tc.version, Command: proxyproto.Proxy, Family: proxyproto.TCP4,
				Source: c.LocalAddr().(*net.TCPAddr).AddrPort(), Destination: netip.MustParseAddrPort(hp)}
			if r.h != want {
				t.Fatalf("HAProxy sent %v, want %v", r.h, want)
			}
			if tc.tlvs && r.n <= 16+12 {
				t.Fatalf("a header of %d bytes: HAProxy sent no TLVs", r.n)
			}
			t.Logf("%s: %d header bytes, %v", tc.name, r.n, r.h)
			if string(r.rest) != payload {
				t.Fatalf("after the header: %q, want %q", r.rest, payload)
			}
		})
	}
}

// readHeader reads c until a PROXY header is whole, parsing what has
// arrived each time as a shard would, and returns it, its length and what
// followed.
func readHeader(c net.Conn) (proxyproto.Header, int, []byte, error) {
	var buf []byte
	tmp := make([]byte, 256)
	for {
		h, n, err := proxyproto.Parse(buf)
		if err == nil {
			return h, n, buf[n:], nil
		}
		if !errors.Is(err, codec.ErrNeedMore) {
			return h, 0, nil, err
		}
		m, rerr := c.Read(tmp)
		if rerr != nil {
			return h, 0, nil, fmt.Errorf("after %d bytes %q: %w", len(buf), buf, rerr)
		}
		buf = append(buf, tmp[:m]...)
	}
}

func TestSendProxyFlag(t *testing.T) {
	runDispatchCases(t, []string{"proxy"}, []dispatchCase{
		{name: "bad version", args: []string{"-backend", "127.0.0.1:1", "-send-proxy", "v3"}, wantCode: 2, wantErr: "want v1 or v2"},
	})
}

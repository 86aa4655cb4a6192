package relay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/codec/proxyproto"
	"github.com/shardnet/shardnet/engine"
)

// readProxyHeader reads c until a whole PROXY header has arrived, as a
// receiver does, and returns it with the bytes read after it.
func readProxyHeader(c net.Conn) (proxyproto.Header, []byte, error) {
	var buf []byte
	tmp := make([]byte, 512)
	for {
		h, n, err := proxyproto.Parse(buf)
		if err == nil {
			return h, buf[n:], nil
		}
		if !errors.Is(err, codec.ErrNeedMore) {
			return h, nil, err
		}
		m, rerr := c.Read(tmp)
		if rerr != nil {
			return h, nil, fmt.Errorf("after %q: %w", buf, rerr)
		}
		buf = append(buf, tmp[:m]...)
	}
}

// TestSendProxy relays through a Proxy that sends a PROXY header, both
// versions and both relay paths, with and without a Router that reads the
// client's first bytes: the backend must see the header first, carrying
// the client's address and port and the proxy's, then every byte.
func TestSendProxy(t *testing.T) {
	for _, version := range []int{1, 2} {
		for _, mode := range spliceModes {
			for _, routed := range []bool{false, true} {
				t.Run(fmt.Sprintf("v%d/%s/router=%v", version, mode.name, routed), func(t *testing.T) {
					checkFds(t)
					headers := make(chan proxyproto.Header, 1)
					be := startBackend(t, func(c net.Conn) {
						defer c.Close()
						h, rest, err := readProxyHeader(c)
						if err != nil {
							t.Errorf("backend: %v", err)
							return
						}
						headers <- h
						c.Write(rest)
						copyPlain(c, c)
						c.(*net.TCPConn).CloseWrite()
					})
					opts := []Option{WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice), WithSendProxy(version)}
					if routed {
						opts = append(opts, WithRouter(func(c *engine.Conn, head []byte, eof bool) (*Pool, error) {
							if len(head) < 5 && !eof {
								return nil, ErrNeedMore
							}
							return nil, nil
						}))
					}
					p := startProxy(t, opts...)
					c := dial(t, p.addr)
					data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: the splice path runs
					go func() {
						c.Write(data)
						c.CloseWrite()
					}()
					got, err := io.ReadAll(c)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("echo: %d of %d bytes, %v", len(got), len(data), err)
					}
					h := <-headers
					client := c.LocalAddr().(*net.TCPAddr).AddrPort()
					proxy := netip.MustParseAddrPort(p.addr)
					want := proxyproto.Header{Version: version, Command: proxyproto.Proxy, Family: proxyproto.TCP4, Source: client, Destination: proxy}
					if h != want {
						t.Fatalf("backend got %v, want %v", h, want)
					}
					if st := p.px.Stats(); st.BytesUp != uint64(len(data)) {
						t.Fatalf("BytesUp %d: the header must not count as relayed bytes (%d)", st.BytesUp, len(data))
					}
				})
			}
		}
	}
}

// TestSendProxyHealthCheck runs an L7 health check against a backend that
// requires the header: version 2 sends LOCAL, version 1 a line with the
// check connection's own addresses, and the check passes.
func TestSendProxyHealthCheck(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			checkFds(t)
			headers := make(chan proxyproto.Header, 16)
			be := startBackend(t, func(c net.Conn) {
				defer c.Close()
				h, rest, err := readProxyHeader(c)
				if err != nil {
					return
				}
				select {
				case headers <- h:
				default: // the test looks at the first few
				}
				for !bytes.Contains(rest, []byte("PING\r\n")) {
					b := make([]byte, 64)
					n, err := c.Read(b)
					if err != nil {
						return
					}
					rest = append(rest, b[:n]...)
				}
				c.Write([]byte("PONG\r\n"))
				io.Copy(io.Discard, c)
			})
			pool := mustPool(t, []string{be.addr}, WithHealthCheck(HealthCheck{
				Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond, Send: []byte("PING\r\n"), Expect: []byte("PONG"),
			}))
			startProxy(t, WithPool(pool), WithSendProxy(version), WithTick(5*time.Millisecond))
			waitFor(t, 5*time.Second, "three checks", func() bool { return pool.Stats()[0].Checks >= 3 })
			st := pool.Stats()[0]
			if st.CheckFails != 0 || !st.Healthy {
				t.Fatalf("checks failed against a backend that reads the header: %+v", st)
			}
			h := <-headers
			switch version {
			case 2:
				if h != (proxyproto.Header{Version: 2, Command: proxyproto.Local}) {
					t.Fatalf("v2 check sent %v, want LOCAL", h)
				}
			case 1:
				if h.Family != proxyproto.TCP4 || h.Destination.String() != be.addr {
					t.Fatalf("v1 check sent %v, want TCP4 to %s", h, be.addr)
				}
			}
		})
	}
}

func TestSendProxyOption(t *testing.T) {
	pool := mustPool(t, []string{"127.0.0.1:1"})
	for _, v := range []int{-1, 3} {
		if _, err := New(WithPool(pool), WithSendProxy(v)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("WithSendProxy(%d): %v, want ErrInvalidOption", v, err)
		}
	}
}

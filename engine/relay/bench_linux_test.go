package relay

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRelayEcho streams writes of each size through the proxy to an
// echo backend and reads them back, on one client connection: the relay's
// bulk path both ways, copy and splice.
func BenchmarkRelayEcho(b *testing.B) {
	for _, mode := range spliceModes {
		for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
			b.Run("mode="+mode.name+"/size="+strconv.Itoa(size), func(b *testing.B) {
				be := startBenchBackend(b)
				p := startBenchProxy(b, WithPool(mustBenchPool(b, be)), WithSplice(mode.splice))
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				buf := make([]byte, size)
				back := make([]byte, size)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				b.ResetTimer()
				done := make(chan error, 1)
				go func() {
					for range b.N {
						if _, err := c.Write(buf); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				for range b.N {
					if _, err := io.ReadFull(c, back); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkRelayShortConnections opens a client, relays 64 bytes to the
// echo backend and back, and closes, per operation: the cost of a pair's
// life (accept, dial, two opens, two closes).
func BenchmarkRelayShortConnections(b *testing.B) {
	be := startBenchBackend(b)
	p := startBenchProxy(b, WithPool(mustBenchPool(b, be)))
	msg := make([]byte, 64)
	back := make([]byte, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
		if _, err := io.ReadFull(c, back); err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, c)
		c.Close()
	}
}

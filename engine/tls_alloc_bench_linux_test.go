package engine

import (
	"crypto/tls"
	"testing"
	"time"
)

// BenchmarkTLSHandshakeAllocs times one full TLS 1.3 handshake (a new
// connection, then its close), the engine beside crypto/tls on net, with
// the same crypto/tls client in this process: allocs/op and B/op include
// the client's, the same in both, so the difference between the two is
// what the engine's server side allocates beyond crypto/tls on net's (a
// goroutine and net.Conn per connection). A flood's handshakes allocate
// this much each (benchmarks/results/tls-16j).
func BenchmarkTLSHandshakeAllocs(b *testing.B) {
	pki := newTestPKI(b)
	servers := tlsEchoServers(pki)
	for _, name := range []string{"engine", "net"} {
		b.Run(name, func(b *testing.B) {
			addr := servers[name](b)
			cfg := pki.client(tls.VersionTLS13)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				// The client's Handshake returns before the server has read
				// its Finished: a round trip makes the server's side whole.
				if got, err := roundTrip(c, []byte("x"), 10*time.Second); err != nil || string(got) != "x" {
					b.Fatalf("echo %q: %v", got, err)
				}
				c.Close()
			}
		})
	}
}

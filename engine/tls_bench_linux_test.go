package engine

import (
	"crypto/tls"
	"io"
	"strconv"
	"sync"
	"testing"
)

// netTLSEcho is the baseline: crypto/tls over net, a goroutine per
// connection.
func netTLSEcho(tb testing.TB, cfg *tls.Config) string {
	tb.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// tlsEchoServers returns, by name, what starts a TLS echo server with
// pki's server certificate and returns its address: the engine (one
// shard) and crypto/tls on net, the pair the TLS benchmarks compare.
func tlsEchoServers(pki *testPKI) map[string]func(tb testing.TB) string {
	return map[string]func(tb testing.TB) string{
		"engine": func(tb testing.TB) string {
			e, _ := startEngine(tb, echoHandler{}, WithShards(1))
			a, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(pki.server()))
			if err != nil {
				tb.Fatal(err)
			}
			return a.String()
		},
		"net": func(tb testing.TB) string { return netTLSEcho(tb, pki.server()) },
	}
}

// BenchmarkTLSEcho times one round trip over one TLS 1.3 connection, the
// engine beside crypto/tls on net, with the same crypto/tls client in
// this process (its allocations and CPU are in both figures; compare the
// two as a ratio).
func BenchmarkTLSEcho(b *testing.B) {
	pki := newTestPKI(b)
	servers := tlsEchoServers(pki)
	for _, size := range []int{64, 4096} {
		for _, name := range []string{"engine", "net"} {
			b.Run(name+"/size="+strconv.Itoa(size), func(b *testing.B) {
				addr := servers[name](b)
				cl, err := tls.Dial("tcp", addr, pki.client(tls.VersionTLS13))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				msg := make([]byte, size)
				got := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := cl.Write(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(cl, got); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

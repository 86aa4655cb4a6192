package relay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/tlscert"
)

// TestSpliceWithTLSSide runs a Proxy with WithSplice(true) whose client
// side is a TLS listener, whose backend side is TLS (DialTLS), or both:
// such a pair must relay by copy (its socket carries records, which only
// the TLS layer may open and seal) and move the bytes intact both ways.
// The plaintext pair beside them is the control: it does splice.
func TestSpliceWithTLSSide(t *testing.T) {
	checkFds(t)
	ca, err := tlscert.NewAuthority("shardnet relay test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	serverCfg := &tls.Config{Certificates: []tls.Certificate{leaf}}
	clientCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}

	plainBE := startBackend(t, echo)
	tlsBE := startTLSBackend(t, serverCfg)

	size := 8 << 20
	if raceEnabled {
		size = 1 << 20
	}
	payload := make([]byte, size)
	rand.Read(payload)
	want := sha256.Sum256(payload)

	for _, tc := range []struct {
		name                  string
		clientTLS, backendTLS bool
	}{
		{"plaintext both sides (splices)", false, false},
		{"TLS client, plaintext backend", true, false},
		{"plaintext client, TLS backend", false, true},
		{"TLS both sides", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pool *Pool
			if tc.backendTLS {
				pool = mustPool(t, []string{tlsBE.addr}, WithDialOptions(engine.DialTLS(clientCfg)))
			} else {
				pool = mustPool(t, []string{plainBE.addr})
			}
			p := startProxy(t, WithPool(pool), WithSplice(true))
			addr := p.addr
			if tc.clientTLS {
				a, err := p.e.Listen("tcp://127.0.0.1:0", engine.ListenTLS(serverCfg))
				if err != nil {
					t.Fatal(err)
				}
				addr = a.String()
			}
			raw := dial(t, addr)
			var c io.ReadWriter = raw
			closeWrite := raw.CloseWrite
			if tc.clientTLS {
				tc := tls.Client(raw, clientCfg)
				c, closeWrite = tc, tc.CloseWrite
			}
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				if err == nil {
					err = closeWrite()
				}
				errc <- err
			}()
			h := sha256.New()
			n, err := copyPlain(h, c)
			if err != nil {
				t.Fatalf("reading the echo: %v after %d bytes", err, n)
			}
			if err := <-errc; err != nil {
				t.Fatalf("writing: %v", err)
			}
			if n != int64(size) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("echo of %d bytes, sha256 %x; want %d bytes, %x", n, h.Sum(nil), size, want)
			}
			st := p.px.Stats()
			if st.BytesUp != uint64(size) || st.BytesDown != uint64(size) {
				waitFor(t, 5*time.Second, "the pair's bytes to be counted", func() bool {
					st = p.px.Stats()
					return st.BytesUp == uint64(size) && st.BytesDown == uint64(size)
				})
			}
			spliced := st.Spliced
			t.Logf("relayed %d up, %d down, %d spliced", st.BytesUp, st.BytesDown, spliced)
			switch {
			case (tc.clientTLS || tc.backendTLS) && spliced != 0:
				t.Fatalf("a pair with a TLS side spliced %d bytes", spliced)
			case !tc.clientTLS && !tc.backendTLS && spliced == 0:
				t.Fatalf("the plaintext pair did not splice: the control shows nothing")
			}
		})
	}
}

// startTLSBackend is startBackend behind crypto/tls: it echoes over TLS
// and half-closes (close_notify) after the client's.
func startTLSBackend(t *testing.T, cfg *tls.Config) *testBackend {
	return startBackend(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		copyPlain(tc, tc)
		tc.CloseWrite()
		io.Copy(io.Discard, tc)
	})
}

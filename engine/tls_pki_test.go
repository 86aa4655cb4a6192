package engine

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// testPKI is an authority and a leaf for 127.0.0.1 and "localhost".
type testPKI struct {
	ca   *tlscert.Authority
	leaf tls.Certificate
	pool *x509.CertPool
}

func newTestPKI(t testing.TB, hosts ...string) *testPKI {
	t.Helper()
	ca, err := tlscert.NewAuthority("shardnet test CA")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1"}
	}
	leaf, err := ca.Leaf(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca, leaf: leaf, pool: ca.Pool()}
}

func (p *testPKI) server() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.leaf}}
}

func (p *testPKI) client(version uint16) *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "localhost", MinVersion: version, MaxVersion: version}
}

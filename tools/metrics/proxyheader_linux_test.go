package metrics

import (
	"net"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/handlers"
)

// TestProxyHeaderFailedMetric sends a PROXY listener one connection with a
// header and one without: only the second moves the failure counter.
func TestProxyHeaderFailedMetric(t *testing.T) {
	e := startEngine(t, handlers.Echo{})
	a, err := e.Listen("127.0.0.1:0", engine.ListenProxyProto(true))
	if err != nil {
		t.Fatal(err)
	}
	s := serveMetrics(t, New(e))
	const name = "shardnet_connections_proxy_header_failed_total"
	if got := sum(t, s.scrape(), name); got != 0 {
		t.Fatalf("%s = %v before any client", name, got)
	}
	good, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	good.Write([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\nhi"))
	good.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := good.Read(make([]byte, 2)); err != nil {
		t.Fatalf("the client with a header got no echo: %v", err)
	}
	bad, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte("hi"))
	waitFor(t, "the failure to show", func() bool { return sum(t, s.scrape(), name) == 1 })
}

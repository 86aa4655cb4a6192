package metrics

import (
	"net"
	"testing"

	"github.com/shardnet/shardnet/engine"
)

// slowReader reads at most 200 kB/s from each connection.
type slowReader struct{ engine.BaseHandler }

func (slowReader) OnOpen(c *engine.Conn) error {
	return c.SetRateLimit(engine.RateLimit{Rate: 200_000}, engine.RateLimit{})
}

func (slowReader) OnTraffic(c *engine.Conn) { c.Discard(c.Buffered()) }

// TestRateLimitWaitsMetric sends more than a rate-limited connection's
// burst: the read waits move, the write waits do not.
func TestRateLimitWaitsMetric(t *testing.T) {
	e := startEngine(t, slowReader{})
	c := New(e)
	s := serveMetrics(t, c)
	const name = "shardnet_shard_rate_limit_waits_total"
	before := s.scrape()
	checkNames(t, c, before)
	if got := sum(t, before, name); got != 0 {
		t.Fatalf("%s = %v before any client", name, got)
	}
	conn, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(make([]byte, 100_000)) // 25 ticks' worth at 200 kB/s
	waitFor(t, "read waits to show", func() bool { return sum(t, s.scrape(), name, "direction", "read") >= 2 })
	if got := sum(t, s.scrape(), name, "direction", "write"); got != 0 {
		t.Fatalf("write waits %v for a connection that writes nothing", got)
	}
}

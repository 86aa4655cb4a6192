package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/relay"
	"github.com/shardnet/shardnet/tools/handlers"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scraper fetches and parses an endpoint, as Prometheus would.
type scraper struct {
	t   *testing.T
	url string
	c   *http.Client
}

func newScraper(t *testing.T, addr net.Addr) *scraper {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &scraper{t: t, url: "http://" + addr.String() + "/metrics", c: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// scrape returns the endpoint's metric families, parsed with the
// Prometheus text parser.
func (s *scraper) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := s.c.Get(s.url)
	if err != nil {
		s.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// sum adds a family's values over the series whose labels include want
// (name=value pairs).
func sum(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s in the scrape", name)
	}
	total := 0.0
	found := false
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		}
	}
	if !found {
		t.Fatalf("no series of %s with labels %v", name, want)
	}
	return total
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		ok := false
		for _, l := range m.GetLabel() {
			ok = ok || (l.GetName() == want[i] && l.GetValue() == want[i+1])
		}
		if !ok {
			return false
		}
	}
	return true
}

// checkNames checks the shardnet families against Prometheus naming: a
// counter ends in _total, a gauge does not, units are base units spelled
// as suffixes, and promlint finds nothing.
func checkNames(t *testing.T, c *Collector, fams map[string]*dto.MetricFamily) {
	t.Helper()
	n := 0
	for name, f := range fams {
		if !strings.HasPrefix(name, "shardnet_") {
			continue
		}
		n++
		counter := f.GetType() == dto.MetricType_COUNTER
		if counter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: a %v must end in _total exactly when it is a counter", name, f.GetType())
		}
		base := strings.TrimSuffix(name, "_total")
		for _, unit := range []string{"bytes", "seconds"} {
			if strings.Contains(base, unit) && !strings.HasSuffix(base, "_"+unit) {
				t.Errorf("%s: the unit %s must be the name's suffix (before _total)", name, unit)
			}
		}
		for _, bad := range []string{"milliseconds", "microseconds", "kilobytes", "_ms", "_count"} {
			if strings.Contains(name, bad) {
				t.Errorf("%s: not a base unit (%s)", name, bad)
			}
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	if n == 0 {
		t.Fatal("no shardnet_ metric in the scrape")
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func startEngine(t *testing.T, h engine.Handler, opts ...engine.Option) *engine.Engine {
	t.Helper()
	e, err := engine.Serve(h, []string{"127.0.0.1:0"}, append([]engine.Option{engine.WithShards(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return e
}

func serveMetrics(t *testing.T, c *Collector) *scraper {
	t.Helper()
	addr, stop, err := Serve("127.0.0.1:0", c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return newScraper(t, addr)
}

// echoRound sends size bytes on c and reads them back.
func echoRound(t *testing.T, c net.Conn, size int) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	data := make([]byte, size)
	go c.Write(data)
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatalf("echo: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEngineMetricsMove scrapes an echo server before, during and after
// traffic: connections, opened and closed counts and bytes each way must
// move by what the test did.
func TestEngineMetricsMove(t *testing.T) {
	e := startEngine(t, handlers.Echo{})
	c := New(e)
	s := serveMetrics(t, c)

	before := s.scrape()
	checkNames(t, c, before)
	if got := sum(t, before, "shardnet_shard_connections"); got != 0 {
		t.Fatalf("%v connections before any client", got)
	}
	if n := len(before["shardnet_shard_connections"].GetMetric()); n != 2 {
		t.Fatalf("%d shard series, want 2", n)
	}

	const size = 256 << 10
	conn, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	echoRound(t, conn, size)
	during := s.scrape()
	if got := sum(t, during, "shardnet_shard_connections"); got != 1 {
		t.Errorf("connections while one client is connected: %v", got)
	}
	for _, name := range []string{"shardnet_shard_received_bytes_total", "shardnet_shard_sent_bytes_total"} {
		if d := sum(t, during, name) - sum(t, before, name); d != size {
			t.Errorf("%s moved by %v, want %d", name, d, size)
		}
	}
	if d := sum(t, during, "shardnet_shard_connections_opened_total") - sum(t, before, "shardnet_shard_connections_opened_total"); d != 1 {
		t.Errorf("opened moved by %v, want 1", d)
	}
	if d := sum(t, during, "shardnet_shard_loop_iterations_total") - sum(t, before, "shardnet_shard_loop_iterations_total"); d <= 0 {
		t.Errorf("loop iterations did not move: %v", d)
	}
	if d := sum(t, during, "shardnet_shard_busy_seconds_total") - sum(t, before, "shardnet_shard_busy_seconds_total"); d <= 0 {
		t.Errorf("busy seconds did not move: %v", d)
	}
	conn.Close()
	waitFor(t, "the close to show", func() bool {
		after := s.scrape()
		return sum(t, after, "shardnet_shard_connections") == 0 &&
			sum(t, after, "shardnet_shard_connections_closed_total")-sum(t, before, "shardnet_shard_connections_closed_total") == 1
	})
	if _, ok := before["go_goroutines"]; !ok {
		t.Error("the Go runtime's metrics are missing")
	}
}

// TestProxyMetrics scrapes a relay Proxy with one dead and one live
// backend: the dead one's connect errors and ejection, the live one's
// health and pairs, and bytes relayed each way, per proxy and per backend.
func TestProxyMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backendDone := make(chan struct{})
	go func() {
		defer close(backendDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-backendDone })
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // refused from now on
	live := ln.Addr().String()

	pool, err := relay.NewPool([]string{deadAddr, live})
	if err != nil {
		t.Fatal(err)
	}
	px, err := relay.New(relay.WithPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	e := startEngine(t, px, px.EngineOptions()...)
	c := New(e, WithProxy(px), WithPool("web", pool))
	s := serveMetrics(t, c)
	before := s.scrape()
	checkNames(t, c, before)

	const size = 128 << 10
	var conns []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		echoRound(t, conn, size)
	}
	// The shard counts relayed bytes just after it hands them on, so the
	// client may hold the last of them a moment before the counter does.
	var during map[string]*dto.MetricFamily
	waitFor(t, "the relayed byte counters", func() bool {
		during = s.scrape()
		return sum(t, during, "shardnet_proxy_relayed_bytes_total", "direction", "up") >= 2*size &&
			sum(t, during, "shardnet_proxy_relayed_bytes_total", "direction", "down") >= 2*size
	})
	if got := sum(t, during, "shardnet_proxy_pairs"); got != 2 {
		t.Errorf("proxy pairs: %v, want 2", got)
	}
	if got := sum(t, during, "shardnet_proxy_backend_connections", "backend", live, "pool", "web"); got != 2 {
		t.Errorf("live backend's connections: %v, want 2", got)
	}
	if got := sum(t, during, "shardnet_proxy_backend_connect_errors_total", "backend", deadAddr); got < 1 {
		t.Errorf("dead backend's connect errors: %v, want >= 1", got)
	}
	if got := sum(t, during, "shardnet_proxy_backend_ejected", "backend", deadAddr); got != 1 {
		t.Errorf("dead backend ejected: %v, want 1", got)
	}
	if got := sum(t, during, "shardnet_proxy_backend_healthy", "backend", live); got != 1 {
		t.Errorf("live backend healthy: %v, want 1", got)
	}
	for _, dir := range []string{"up", "down"} {
		if got := sum(t, during, "shardnet_proxy_relayed_bytes_total", "direction", dir); got != 2*size {
			t.Errorf("relayed %s: %v, want %d", dir, got, 2*size)
		}
	}
	if got := sum(t, during, "shardnet_proxy_clients_relayed_total"); got != 2 {
		t.Errorf("clients relayed: %v, want 2", got)
	}
	for _, conn := range conns {
		conn.Close()
	}
	// A pair's bytes reach its backend's counters when it ends.
	waitFor(t, "the pairs to end", func() bool {
		after := s.scrape()
		return sum(t, after, "shardnet_proxy_pairs") == 0 &&
			sum(t, after, "shardnet_proxy_backend_relayed_bytes_total", "backend", live, "direction", "up") == 2*size &&
			sum(t, after, "shardnet_proxy_backend_relayed_bytes_total", "backend", live, "direction", "down") == 2*size
	})
}

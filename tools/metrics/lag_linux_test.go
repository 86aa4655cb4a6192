package metrics

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/tlscert"
	"github.com/shardnet/shardnet/tools/handlers"
)

// lagSeries returns the loop-lag histogram of each shard in a scrape,
// checking that it is one and that its buckets are cumulative.
func lagSeries(t *testing.T, fams map[string]*dto.MetricFamily) map[string]*dto.Histogram {
	t.Helper()
	const name = "shardnet_shard_loop_lag_seconds"
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s in the scrape", name)
	}
	if f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s is a %v, want a histogram", name, f.GetType())
	}
	out := map[string]*dto.Histogram{}
	for _, m := range f.GetMetric() {
		shard := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "shard" {
				shard = l.GetValue()
			}
		}
		h := m.GetHistogram()
		prev, prevBound := uint64(0), 0.0
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() <= prevBound || b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Fatalf("shard %s: bucket le=%v count %d after le=%v count %d, of %d samples",
					shard, b.GetUpperBound(), b.GetCumulativeCount(), prevBound, prev, h.GetSampleCount())
			}
			prev, prevBound = b.GetCumulativeCount(), b.GetUpperBound()
		}
		if len(h.GetBucket()) < 15 {
			t.Fatalf("shard %s: %d buckets, want the engine's 15 bounds", shard, len(h.GetBucket()))
		}
		out[shard] = h
	}
	return out
}

// TestLoopLagHistogram: each shard's lag histogram gains samples at the
// sampling period while the engine runs, idle or not, and tasks run move
// with the connections handed to the shards.
func TestLoopLagHistogram(t *testing.T) {
	const period = 10 * time.Millisecond
	e := startEngine(t, handlers.Echo{}, engine.WithLagSampling(period))
	c := New(e)
	s := serveMetrics(t, c)
	before := s.scrape()
	checkNames(t, c, before)
	first := lagSeries(t, before)
	if len(first) != 2 {
		t.Fatalf("%d lag series, want one per shard (2)", len(first))
	}
	conn, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echoRound(t, conn, 64<<10)
	// 20 periods' worth of samples, on each shard.
	waitFor(t, "lag samples on every shard", func() bool {
		now := lagSeries(t, s.scrape())
		for shard, h := range first {
			if now[shard].GetSampleCount() < h.GetSampleCount()+20 {
				return false
			}
		}
		return true
	})
	after := s.scrape()
	for shard, h := range lagSeries(t, after) {
		if h.GetSampleSum() <= first[shard].GetSampleSum() {
			t.Errorf("shard %s: the samples' sum did not grow (%v then %v)", shard, first[shard].GetSampleSum(), h.GetSampleSum())
		}
	}
	// The accepted connection reached its shard as a task.
	if d := sum(t, after, "shardnet_shard_tasks_run_total") - sum(t, before, "shardnet_shard_tasks_run_total"); d < 1 {
		t.Errorf("tasks run moved by %v after a hand-off", d)
	}
	if _, ok := after["shardnet_shard_round_running_seconds"]; !ok {
		t.Error("the round-in-progress gauge is missing")
	}
}

// TestTLSMetrics: a completed handshake and a failed one (a plaintext
// client on the TLS listener) each move their counter, the refusals none.
func TestTLSMetrics(t *testing.T) {
	ca, err := tlscert.NewAuthority("metrics test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Leaf("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e := startEngine(t, handlers.Echo{})
	addr, err := e.Listen("127.0.0.1:0", engine.ListenTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	if err != nil {
		t.Fatal(err)
	}
	c := New(e)
	s := serveMetrics(t, c)
	before := s.scrape()
	checkNames(t, c, before)
	for _, name := range []string{"shardnet_tls_handshakes_total", "shardnet_tls_handshake_failures_total", "shardnet_tls_handshakes_refused_total"} {
		if got := sum(t, before, name); got != 0 {
			t.Fatalf("%s = %v before any client", name, got)
		}
	}

	d := &net.Dialer{Timeout: 5 * time.Second}
	good, err := tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	echoRound(t, good, 1024)
	afterGood := s.scrape()
	if got := sum(t, afterGood, "shardnet_tls_handshakes_total"); got != 1 {
		t.Fatalf("handshakes %v after one TLS client, want 1", got)
	}
	// The handshake held a CPU slot while it computed; the default share
	// (1) defers nothing.
	if got := sum(t, afterGood, "shardnet_tls_handshake_cpu_seconds_total"); got <= 0 {
		t.Errorf("handshake CPU %v s after one handshake, want more than 0", got)
	}
	if got := sum(t, afterGood, "shardnet_tls_handshakes_deferred_total"); got != 0 {
		t.Errorf("deferred %v with no handshake share set", got)
	}

	bad, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, bad) // the server's alert, then its close
	waitFor(t, "the failed handshake to show", func() bool {
		return sum(t, s.scrape(), "shardnet_tls_handshake_failures_total") == 1
	})
	after := s.scrape()
	if got := sum(t, after, "shardnet_tls_handshakes_total"); got != 1 {
		t.Errorf("handshakes %v after a failed one, want still 1", got)
	}
	if got := sum(t, after, "shardnet_tls_handshakes_refused_total"); got != 0 {
		t.Errorf("refused %v with no cap reached", got)
	}
}

//go:build linux

package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics fetches http://addr/metrics and parses it with the
// Prometheus text parser.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// familyTotal adds a family's values over all its series.
func familyTotal(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no %s in the scrape", name)
	}
	v := 0.0
	for _, m := range f.GetMetric() {
		v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return v
}

// TestMetricsFlag runs the echo server and the proxy in front of it, each
// with -metrics, pushes bytes through both and scrapes both: the bytes
// show on each, and the proxy shows its backend.
func TestMetricsFlag(t *testing.T) {
	echoMetrics, proxyMetrics := freeAddr(t), freeAddr(t)
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0", "-shards", "2", "-metrics", echoMetrics)
	p, _ := startProxy(t, []string{echo.addr}, "-metrics", proxyMetrics)
	before := scrapeMetrics(t, echoMetrics)

	const size = 64 << 10
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write(make([]byte, size))
	if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
		t.Fatalf("echo through the proxy: %v", err)
	}
	after := scrapeMetrics(t, echoMetrics)
	if d := familyTotal(t, after, "shardnet_shard_received_bytes_total") - familyTotal(t, before, "shardnet_shard_received_bytes_total"); d != size {
		t.Errorf("echo server received %v bytes by its metrics, want %d", d, size)
	}
	pm := scrapeMetrics(t, proxyMetrics)
	if got := familyTotal(t, pm, "shardnet_proxy_relayed_bytes_total"); got != 2*size {
		t.Errorf("proxy relayed %v bytes by its metrics, want %d", got, 2*size)
	}
	if got := familyTotal(t, pm, "shardnet_proxy_backend_healthy"); got != 1 {
		t.Errorf("proxy's one backend healthy = %v", got)
	}
	c.Close()
	out := p.stop(t)
	if !strings.Contains(out, "metrics on http://"+proxyMetrics+"/metrics") {
		t.Errorf("the proxy did not say where its metrics are:\n%s", out)
	}
	echo.stop(t)
}

func TestMetricsFlagBadAddr(t *testing.T) {
	runDispatchCases(t, []string{"echo"}, []dispatchCase{
		{name: "unusable address", args: []string{"-addr", "127.0.0.1:0", "-metrics", "127.0.0.1:notaport"}, wantCode: 1, wantErr: "-metrics"},
	})
}

// TestMetricsFlagUDP: udp-echo serves its datagram counters too, and they
// count what a client sent and got back.
func TestMetricsFlagUDP(t *testing.T) {
	addr := freeAddr(t)
	echo := startServer(t, "udp-echo", "-addr", "udp://127.0.0.1:0", "-shards", "2", "-metrics", addr)
	nc, err := net.Dial("udp", strings.TrimPrefix(echo.addr, "udp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 10
	for i := 0; i < n; i++ {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Read(make([]byte, 16)); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	// udp-echo serves its metrics just after its start-up line.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics endpoint at %s: %v", addr, err)
		}
	}
	// The shard counts a reply once sendmmsg returns, which may be just
	// after the client has read it.
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = familyTotal(t, scrapeMetrics(t, addr), "shardnet_shard_udp_datagrams_total"); got == 2*n {
			break
		}
	}
	if got != 2*n {
		t.Errorf("udp-echo counted %v datagrams in and out by its metrics, want %d", got, 2*n)
	}
	if out := echo.stop(t); !strings.Contains(out, "metrics on http://"+addr+"/metrics") {
		t.Errorf("udp-echo did not say where its metrics are:\n%s", out)
	}
}

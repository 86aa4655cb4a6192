package main

import (
	"strings"
	"testing"
)

// TestHAProxyConfig: HAProxy gets one thread, TCP mode, and the same TLS
// as shardnet's side: 1.3, X25519, AES-128-GCM, the combined PEM.
func TestHAProxyConfig(t *testing.T) {
	cfg := haproxyConfig("127.0.0.1:1", "127.0.0.1:2", "/tmp/c.pem")
	for _, want := range []string{
		"nbthread 1", "mode tcp",
		"bind 127.0.0.1:1 ssl crt /tmp/c.pem ssl-min-ver TLSv1.3 curves X25519 ciphersuites TLS_AES_128_GCM_SHA256",
		"server sink 127.0.0.1:2",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}

// TestReportPaired: the verdict is the median of the per-round ratios of
// CPU per KiB, met at or under 1.
func TestReportPaired(t *testing.T) {
	mk := func(proxy string, cpu float64) result {
		return result{proxy: proxy, window: 4, kib: 1 << 20, proxyCPU: cpu, coreBusy: cpu}
	}
	for _, tc := range []struct {
		name  string
		pairs [][2]result
		want  string
	}{
		{"met", [][2]result{{mk("shardnet", 0.8), mk("haproxy", 1)}, {mk("shardnet", 0.9), mk("haproxy", 1)}, {mk("shardnet", 1.2), mk("haproxy", 1)}},
			"median 0.90 over rounds 0.80, 0.90, 1.20 (target ≤ 1.00: met)"},
		{"missed", [][2]result{{mk("shardnet", 1.1), mk("haproxy", 1)}, {mk("shardnet", 1.3), mk("haproxy", 1)}},
			"median 1.20 over rounds 1.10, 1.30 (target ≤ 1.00: missed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			report(&b, tc.pairs, 5e9, 1e9, 0)
			if !strings.Contains(b.String(), tc.want) {
				t.Fatalf("report lacks %q:\n%s", tc.want, b.String())
			}
		})
	}
}

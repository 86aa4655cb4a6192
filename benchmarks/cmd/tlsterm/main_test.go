package main

import (
	"slices"
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
// CPU per KiB, met at or under 1; a second variant is also paired with the
// first.
func TestReportPaired(t *testing.T) {
	mk := func(proxy string, cpu float64) result {
		return result{proxy: proxy, window: 4, kib: 1 << 20, proxyCPU: cpu, coreBusy: cpu}
	}
	round := func(cpus ...float64) map[string]result {
		m := map[string]result{haproxyName: mk(haproxyName, 1)}
		for i, c := range cpus {
			name := []string{"shardnet", "rt"}[i]
			m[name] = mk(name, c)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		names  []string
		rounds []map[string]result
		want   []string
	}{
		{"met", []string{"shardnet", haproxyName}, []map[string]result{round(0.8), round(0.9), round(1.2)},
			[]string{"shardnet / HAProxy, proxy CPU per KiB: median 0.90 over rounds 0.80, 0.90, 1.20 (target ≤ 1.00: met; 2 of 3 rounds ≤ 1)"}},
		{"missed", []string{"shardnet", haproxyName}, []map[string]result{round(1.1), round(1.3)},
			[]string{"shardnet / HAProxy, proxy CPU per KiB: median 1.20 over rounds 1.10, 1.30 (target ≤ 1.00: missed; 0 of 2 rounds ≤ 1)"}},
		{"two variants", []string{"shardnet", "rt", haproxyName}, []map[string]result{round(1.0, 0.8), round(1.2, 0.9), round(1.1, 1.1)},
			[]string{
				"rt / HAProxy, proxy CPU per KiB: median 0.90 over rounds 0.80, 0.90, 1.10 (target ≤ 1.00: met; 2 of 3 rounds ≤ 1)",
				"rt / shardnet, proxy CPU per KiB: median 0.80 over rounds 0.80, 0.75, 1.00",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			report(&b, tc.names, tc.rounds, 5e9, 1e9, 0)
			for _, want := range tc.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// TestVariantFlag: -variant takes NAME=DIR and an optional wait mode, and
// refuses what it cannot run.
func TestVariantFlag(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    variants
		wantErr string
	}{
		{in: []string{"main=/tmp/a"}, want: variants{{name: "main", dir: "/tmp/a"}}},
		{in: []string{"main=/tmp/a", "rt=/tmp/b,wait=runtime"}, want: variants{{name: "main", dir: "/tmp/a"}, {name: "rt", dir: "/tmp/b", wait: "runtime"}}},
		{in: []string{"new=/tmp/c,flag-wait=runtime"}, want: variants{{name: "new", dir: "/tmp/c", flagWait: "runtime"}}},
		{in: []string{"x=/tmp/a,wait=epoll"}, wantErr: "want syscall, runtime or runtime-pinned"},
		{in: []string{"x=/tmp/a,flag-wait=epoll"}, wantErr: "want syscall, runtime or runtime-pinned"},
		{in: []string{"x=/tmp/a,speed=1"}, wantErr: "unknown setting"},
		{in: []string{"haproxy=/tmp/a"}, wantErr: "NAME=DIR"},
		{in: []string{"/tmp/a"}, wantErr: "NAME=DIR"},
		{in: []string{"a=/x", "a=/y"}, wantErr: "named twice"},
	} {
		var v variants
		var err error
		for _, s := range tc.in {
			if err = v.Set(s); err != nil {
				break
			}
		}
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.in, err)
		case !slices.Equal(v, tc.want):
			t.Errorf("%v: got %+v, want %+v", tc.in, v, tc.want)
		}
	}
}

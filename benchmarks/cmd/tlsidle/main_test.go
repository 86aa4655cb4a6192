package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReportVerdict: the ratio of the TLS cells against net/http decides
// met or missed at 1/4, per idle state.
func TestReportVerdict(t *testing.T) {
	var cells []cell
	for _, s := range []string{"shardnet", "nethttp"} {
		cells = append(cells, cell{s, true, "handshake"}, cell{s, true, "request"})
	}
	per := map[string][]float64{
		"shardnet/tls/handshake": {8 << 10, 10 << 10},
		"nethttp/tls/handshake":  {36 << 10},
		"shardnet/tls/request":   {30 << 10},
		"nethttp/tls/request":    {50 << 10},
	}
	var b strings.Builder
	report(&b, cells, per, 10000, 2)
	out := b.String()
	for _, want := range []string{
		"handshake: shardnet / net/http = 0.25 (target ≤ 0.25: met)",
		"one 16 KiB request: shardnet / net/http = 0.60 (target ≤ 0.25: missed)",
		"| shardnet | TLS 1.3 | handshake | 9.0 | 8.0, 10.0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestPaired: per-round ratios are reported only when both cells have a
// figure in every round, with their median.
func TestPaired(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want string
	}{
		{"two rounds", []float64{8, 9}, []float64{32, 36}, "; paired by round: median 0.250 over 0.250, 0.250"},
		{"three rounds", []float64{8, 9, 10}, []float64{40, 30, 20}, "; paired by round: median 0.300 over 0.200, 0.300, 0.500"},
		{"a round missing", []float64{8, 9}, []float64{32}, ""},
		{"one round", []float64{8}, []float64{32}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := paired(tc.a, tc.b); got != tc.want {
				t.Errorf("paired(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestServeNetHTTP: the net/http server of a cell answers a request with
// a body and keeps the connection.
func TestServeNetHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	go serveNetHTTP(addr, "", "") // ends with the test binary
	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		body := strings.Repeat("x", 16<<10)
		req, _ := http.NewRequest("GET", "http://"+addr+"/plaintext", strings.NewReader(body))
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		// The server sends nothing unasked: a fresh reader per answer
		// loses nothing.
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(got) != "Hello, World!" || resp.Close {
			t.Fatalf("request %d: %s %q close=%v", i+1, resp.Status, got, resp.Close)
		}
	}
}

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// wrkGet is the request wrk sends.
const wrkGet = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// bootedHTTP makes an http handler with the state of n shards, as OnBoot
// makes it for an engine of n shards, for tests that drive it without one.
func bootedHTTP(n int, headTimeout time.Duration) *httpHandler {
	h := newHTTPHandler(headTimeout)
	h.makeShards(n)
	return h
}

// readResponses parses every response in b with net/http's client parser
// and returns their status codes and bodies.
func readResponses(t *testing.T, b []byte) (codes []int, bodies []string) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return codes, bodies
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d does not parse: %v\n%q", len(codes), err, b)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(codes), err)
		}
		if resp.StatusCode == 100 {
			continue
		}
		codes = append(codes, resp.StatusCode)
		bodies = append(bodies, string(body))
	}
}

// TestHTTPServeInProcess drives the request path over an in-memory source,
// fed in one piece and then one byte at a time, so every split of the
// input is tried.
func TestHTTPServeInProcess(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantCodes []int
		wantBody  []string // compared when not nil
		wantClose bool
	}{
		{name: "plaintext", in: wrkGet, wantCodes: []int{200}, wantBody: []string{"Hello, World!"}},
		{name: "json", in: "GET /json HTTP/1.1\r\nHost: h\r\n\r\n", wantCodes: []int{200}, wantBody: []string{`{"message":"Hello, World!"}`}},
		{name: "query string", in: "GET /json?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", wantCodes: []int{200}},
		{name: "not found", in: "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", wantCodes: []int{404}},
		{name: "method not allowed", in: "DELETE /json HTTP/1.1\r\nHost: h\r\n\r\n", wantCodes: []int{405}},
		{name: "pipelined in order", in: wrkGet + "GET /json HTTP/1.1\r\nHost: h\r\n\r\n" + "GET /x HTTP/1.1\r\nHost: h\r\n\r\n" + wrkGet,
			wantCodes: []int{200, 200, 404, 200}, wantBody: []string{"Hello, World!", `{"message":"Hello, World!"}`, "Not Found\n", "Hello, World!"}},
		{name: "content-length body skipped", in: "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nGET /json 1" + wrkGet, wantCodes: []int{404, 200}},
		{name: "chunked body skipped", in: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\n" + wrkGet, wantCodes: []int{404, 200}},
		{name: "expect continue", in: "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" + wrkGet, wantCodes: []int{404, 200}},
		{name: "http/1.0 closes", in: "GET /plaintext HTTP/1.0\r\n\r\n" + wrkGet, wantCodes: []int{200}, wantClose: true},
		{name: "http/1.0 keep-alive", in: "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + wrkGet, wantCodes: []int{200, 200}},
		{name: "connection close", in: "GET /plaintext HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + wrkGet, wantCodes: []int{200}, wantClose: true},
		{name: "garbage", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", wantCodes: []int{400}, wantClose: true},
		{name: "answers before garbage", in: wrkGet + "HELLO?\r\n\r\n", wantCodes: []int{200, 400}, wantClose: true},
		{name: "content-length and transfer-encoding", in: "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", wantCodes: []int{400}, wantClose: true},
		{name: "two content-lengths", in: "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", wantCodes: []int{400}, wantClose: true},
		{name: "bad chunk", in: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantCodes: []int{400}, wantClose: true},
		{name: "headers too large", in: "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", wantCodes: []int{431}, wantClose: true},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bytewise=%v", tc.name, split), func(t *testing.T) {
				h := bootedHTTP(1, time.Second)
				st, sh := &httpConn{}, &h.shards[0]
				src := codec.NewBytes(nil)
				var got []byte
				closed := false
				chunk := len(tc.in)
				if split {
					chunk = 1
				}
				for off := 0; off < len(tc.in) && !closed; off += chunk {
					src.Write([]byte(tc.in[off:min(off+chunk, len(tc.in))]))
					for {
						out, v, _ := h.serve(src, st, sh)
						got = append(got, out...)
						if v == httpClose {
							closed = true
						}
						if v != httpFull {
							break
						}
					}
				}
				codes, bodies := readResponses(t, got)
				if fmt.Sprint(codes) != fmt.Sprint(tc.wantCodes) {
					t.Fatalf("status codes %v, want %v\n%s", codes, tc.wantCodes, got)
				}
				if tc.wantBody != nil && fmt.Sprint(bodies) != fmt.Sprint(tc.wantBody) {
					t.Fatalf("bodies %q, want %q", bodies, tc.wantBody)
				}
				if closed != tc.wantClose {
					t.Fatalf("closed=%v, want %v", closed, tc.wantClose)
				}
			})
		}
	}
}

// TestHTTPZeroAllocs asserts the steady-state request path (parse, answer
// with the cached Date, consume) allocates nothing, pipelined or not.
func TestHTTPZeroAllocs(t *testing.T) {
	for _, depth := range []int{1, 16} {
		t.Run("pipeline="+strconv.Itoa(depth), func(t *testing.T) {
			h := bootedHTTP(1, time.Second)
			st, sh := &httpConn{}, &h.shards[0]
			wire := []byte(strings.Repeat(wrkGet, depth))
			src := codec.NewBytes(make([]byte, 0, len(wire)))
			run := func() {
				src.Write(wire)
				out, v, _ := h.serve(src, st, sh)
				if v != httpIdle || len(out) == 0 {
					t.Fatalf("verdict %d, %d bytes out", v, len(out))
				}
				sh.out = out[:0]
			}
			run() // grow the scratch buffer once
			if allocs := testing.AllocsPerRun(500, run); allocs != 0 {
				t.Fatalf("%v allocations per batch of %d requests, want 0", allocs, depth)
			}
		})
	}
}

// startHTTP runs the http command on a free loopback port.
func startHTTP(t *testing.T, extra ...string) *server {
	return startServer(t, append([]string{"http", "-addr", "127.0.0.1:0", "-shards", "2"}, extra...)...)
}

func TestHTTPWithCurl(t *testing.T) {
	s := startHTTP(t)
	tests := []struct {
		name     string
		args     []string
		wantOut  []string // substrings of curl's output
		wantNone []string
	}{
		{name: "plaintext", args: []string{"-si", "/plaintext"}, wantOut: []string{"HTTP/1.1 200 OK\r\n", "Content-Type: text/plain\r\n", "Content-Length: 13\r\n", "\r\n\r\nHello, World!"}},
		{name: "json", args: []string{"-si", "/json"}, wantOut: []string{"HTTP/1.1 200 OK\r\n", "Content-Type: application/json\r\n", "\r\n\r\n{\"message\":\"Hello, World!\"}"}},
		{name: "not found", args: []string{"-si", "/other"}, wantOut: []string{"HTTP/1.1 404 Not Found\r\n"}},
		{name: "head", args: []string{"-sI", "/plaintext"}, wantOut: []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 13\r\n"}, wantNone: []string{"Hello"}},
		{name: "http/1.0", args: []string{"-si", "--http1.0", "/plaintext"}, wantOut: []string{"HTTP/1.1 200 OK\r\n", "Connection: close\r\n", "Hello, World!"}},
		{name: "post with body", args: []string{"-si", "--data-binary", strings.Repeat("x", 100000), "/json"}, wantOut: []string{"HTTP/1.1 405 Method Not Allowed\r\n", "Allow: GET, HEAD\r\n"}},
		{name: "two requests on one connection", args: []string{"-sv", "/plaintext", "/json"}, wantOut: []string{"Hello, World!", `{"message":"Hello, World!"}`, "Re-using existing connection #0"}},
	}
	dateRe := regexp.MustCompile(`\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{}, tc.args...)
			for i, a := range args {
				if strings.HasPrefix(a, "/") {
					args[i] = "http://" + s.addr + a
				}
			}
			out := runCurl(t, args...)
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("curl output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(out, w) {
					t.Errorf("curl output has %q:\n%s", w, out)
				}
			}
			if tc.args[0] == "-si" && !dateRe.MatchString(out) {
				t.Errorf("no well-formed Date header:\n%s", out)
			}
		})
	}
	s.stop(t)
}

// runCurl runs curl and returns its standard output and error together
// (-v writes the connection reuse to stderr).
func runCurl(t *testing.T, args ...string) string {
	t.Helper()
	needTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// wrkSummary is what the tests read from wrk's report.
type wrkSummary struct {
	requests     int
	socketErrors string // the "Socket errors" line, empty when wrk printed none
	non2xx       int
}

var (
	wrkRequestsRe = regexp.MustCompile(`(\d+) requests in`)
	wrkSocketRe   = regexp.MustCompile(`Socket errors: .*`)
	wrkNon2xxRe   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) (wrkSummary, bool) {
	var s wrkSummary
	m := wrkRequestsRe.FindStringSubmatch(out)
	if m == nil {
		return s, false
	}
	s.requests, _ = strconv.Atoi(m[1])
	s.socketErrors = wrkSocketRe.FindString(out)
	if m := wrkNon2xxRe.FindStringSubmatch(out); m != nil {
		s.non2xx, _ = strconv.Atoi(m[1])
	}
	return s, true
}

// wrkPipelineScript makes wrk send 16 requests per write, as the
// TechEmpower plaintext test does.
const wrkPipelineScript = `init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
`

func TestHTTPWithWrk(t *testing.T) {
	script := filepath.Join(t.TempDir(), "pipeline.lua")
	if err := os.WriteFile(script, []byte(wrkPipelineScript), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{name: "keep-alive", args: nil},
		{name: "pipelined 16 deep", args: []string{"-s", script}},
	}
	s := startHTTP(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-t1", "-c16", "-d3s", "--timeout", "5s"}, tc.args...)
			out := runClient(t, "", "wrk", append(args, "http://"+s.addr+"/plaintext")...)
			t.Logf("wrk %s:\n%s", tc.name, out)
			sum, ok := parseWrk(out)
			switch {
			case !ok:
				t.Fatalf("wrk output has no request count:\n%s", out)
			case sum.requests == 0:
				t.Fatalf("wrk made no requests:\n%s", out)
			case sum.socketErrors != "":
				t.Fatalf("wrk: %s\n%s", sum.socketErrors, out)
			case sum.non2xx != 0:
				t.Fatalf("wrk: %d non-2xx responses\n%s", sum.non2xx, out)
			}
		})
	}
	s.stop(t)
}

var (
	abCompleteRe = regexp.MustCompile(`Complete requests:\s+(\d+)`)
	abFailedRe   = regexp.MustCompile(`Failed requests:\s+(\d+)`)
	abNon2xxRe   = regexp.MustCompile(`Non-2xx responses:\s+(\d+)`)
)

func TestHTTPWithAB(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "connection per request", args: nil},
		{name: "keep-alive", args: []string{"-k"}},
	}
	s := startHTTP(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-q", "-n", "2000", "-c", "20", "-s", "10"}, tc.args...)
			out := runClient(t, "", "ab", append(args, "http://"+s.addr+"/plaintext")...)
			complete := abCompleteRe.FindStringSubmatch(out)
			failed := abFailedRe.FindStringSubmatch(out)
			if complete == nil || failed == nil {
				t.Fatalf("ab output lacks its summary:\n%s", out)
			}
			t.Logf("ab %s: %s, %s", tc.name, strings.TrimSpace(complete[0]), strings.TrimSpace(failed[0]))
			if complete[1] != "2000" || failed[1] != "0" {
				t.Fatalf("ab: complete %s, failed %s\n%s", complete[1], failed[1], out)
			}
			if m := abNon2xxRe.FindStringSubmatch(out); m != nil {
				t.Fatalf("ab: %s non-2xx responses", m[1])
			}
		})
	}
	s.stop(t)
}

// rawExchange sends in on a new connection and reads until the server
// closes it (or the deadline passes), returning what it read and whether
// it saw the close.
func rawExchange(t *testing.T, addr, in string, wait time.Duration) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, in); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	return string(b), err == nil
}

// keepServing checks on another connection, every 100 ms until stop is
// closed, that the server still answers; it reports failures to errs.
func keepServing(addr string, stop <-chan struct{}, served *atomic.Int64, errs chan<- error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		errs <- err
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, wrkGet); err != nil {
			errs <- err
			return
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			errs <- fmt.Errorf("healthy client: %w", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			errs <- fmt.Errorf("healthy client: status %d", resp.StatusCode)
			return
		}
		served.Add(1)
	}
}

func TestHTTPBadInput(t *testing.T) {
	s := startHTTP(t, "-idle", "2s")
	stop := make(chan struct{})
	errs := make(chan error, 1)
	var served atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		keepServing(s.addr, stop, &served, errs)
	}()

	tests := []struct {
		name   string
		in     string
		status string
	}{
		{name: "garbage", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00garbage\r\n\r\n", status: "HTTP/1.1 400 Bad Request\r\n"},
		{name: "garbage request line", in: "HELLO THERE\r\n\r\n", status: "HTTP/1.1 400 Bad Request\r\n"},
		{name: "oversized headers", in: "GET /plaintext HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("a", 1000)+"\r\n", 20) + "\r\n", status: "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{name: "content-length and transfer-encoding", in: "POST /plaintext HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: h\r\n\r\n", status: "HTTP/1.1 400 Bad Request\r\n"},
		{name: "two content-lengths", in: "POST /plaintext HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: h\r\n\r\n", status: "HTTP/1.1 400 Bad Request\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, closed := rawExchange(t, s.addr, tc.in, 5*time.Second)
			if !strings.HasPrefix(out, tc.status) {
				t.Fatalf("got %q, want a response starting %q", out, tc.status)
			}
			if !closed {
				t.Fatalf("connection not closed after %q", tc.status)
			}
			if strings.Count(out, "HTTP/1.1 ") != 1 {
				t.Fatalf("a smuggled request was answered:\n%s", out)
			}
		})
	}

	t.Run("slowloris", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "GET /plaintext HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("z", 100) + "\r\n\r\n"
		start := time.Now()
		var closedAfter time.Duration
		for i := 0; i < len(head); i++ {
			if _, err := c.Write([]byte{head[i]}); err != nil {
				closedAfter = time.Since(start)
				break
			}
			// A closed connection shows as EOF on a short read.
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			var b [512]byte
			n, err := c.Read(b[:])
			if n > 0 {
				t.Fatalf("server answered a head it never got whole: %q", b[:n])
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			closedAfter = time.Since(start)
			break
		}
		t.Logf("slowloris client closed after %v", closedAfter)
		if closedAfter == 0 || closedAfter > 4*time.Second {
			t.Fatalf("slowloris client still connected or closed late (%v); want a close within a few seconds of -idle 2s", closedAfter)
		}
		if closedAfter < 1500*time.Millisecond {
			t.Fatalf("slowloris client closed after %v, before the 2s head timeout", closedAfter)
		}
	})

	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if served.Load() < 5 {
		t.Fatalf("the healthy client was served %d times meanwhile, want at least 5", served.Load())
	}
	s.stop(t)
}

// TestHTTPLiveEngineAllocs counts the heap allocations of the whole
// process while a client pushes pipelined requests through a real engine
// on loopback: engine, handler and client together must stay near zero
// per request once warm.
func TestHTTPLiveEngineAllocs(t *testing.T) {
	h := newHTTPHandler(time.Second)
	e, err := engine.Serve(h, []string{"127.0.0.1:0"}, engine.WithShards(1), engine.WithTick(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const depth = 16
	batch := []byte(strings.Repeat(wrkGet, depth))
	// Every response has the same length (the Date has a fixed width).
	one := "HTTP/1.1 200 OK\r\nDate: " + string(codec.AppendDate(nil, time.Now())) + "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	buf := make([]byte, depth*len(one))
	exchange := func() {
		if _, err := c.Write(batch); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for range 200 {
		exchange()
	}
	if !bytes.HasSuffix(buf, []byte("\r\n\r\nHello, World!")) {
		t.Fatalf("unexpected responses: %q", buf[len(buf)-len(one):])
	}
	const rounds = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		exchange()
	}
	runtime.ReadMemStats(&after)
	perRequest := float64(after.Mallocs-before.Mallocs) / (rounds * depth)
	t.Logf("%.4f allocations per request (%d in %d requests)", perRequest, after.Mallocs-before.Mallocs, rounds*depth)
	if raceEnabled {
		// Under -race sync.Pool drops a share of what is put back (on
		// purpose, to shake out reuse bugs), so the engine's buffer pool
		// allocates; the in-process TestHTTPZeroAllocs still holds there.
		t.Skip("allocation counts through sync.Pool are not meaningful under -race")
	}
	if perRequest > 0.01 {
		t.Fatalf("%.4f allocations per request through a live engine, want ~0", perRequest)
	}
}

// TestHTTPDateRefresh checks that the shard's tick, not the request,
// refreshes the Date: a stale Date is served until OnTick runs.
func TestHTTPDateRefresh(t *testing.T) {
	h := bootedHTTP(2, time.Second)
	stale := "Sun, 06 Nov 1994 08:49:37 GMT"
	for i := range h.shards {
		h.shards[i].date = append(h.shards[i].date[:0], stale...)
	}
	get := func(shard int) string {
		src := codec.NewBytes([]byte(wrkGet))
		out, _, _ := h.serve(src, &httpConn{}, &h.shards[shard])
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Date")
	}
	if d := get(1); d != stale {
		t.Fatalf("Date %q before the tick, want the cached %q", d, stale)
	}
	h.OnTick(1)
	d, err := http.ParseTime(get(1))
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(d); age < -time.Second || age > 2*time.Second {
		t.Fatalf("Date after the tick is %v old", age)
	}
	if d := get(0); d != stale {
		t.Fatalf("shard 0's Date changed with shard 1's tick: %q", d)
	}
}

func TestHTTPAndKVHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "http", args: []string{"http", "-help"}, want: []string{"examples:", "curl -i", "(default 127.0.0.1:8080)", "(default 10s)"}},
		{name: "kv", args: []string{"kv", "-help"}, want: []string{"examples:", "redis-benchmark", "(default 127.0.0.1:6380)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkDispatch(t, tc.args, 0, tc.want...)
		})
	}
}

// FuzzHTTPServe checks that the request path never panics and answers the
// same whether the input arrives in one piece or in pieces of any size: a
// pipelining client must not see a different stream because of how TCP
// split it.
func FuzzHTTPServe(f *testing.F) {
	f.Add([]byte(wrkGet+wrkGet), uint8(1))
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\n"+wrkGet), uint8(3))
	f.Add([]byte("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nabcd"+wrkGet), uint8(7))
	f.Add([]byte("GET /json HTTP/1.0\r\n\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		run := func(chunk int) (string, bool) {
			h := bootedHTTP(1, time.Second)
			st, sh := &httpConn{}, &h.shards[0]
			sh.date = []byte("Sun, 06 Nov 1994 08:49:37 GMT") // both runs alike
			src := codec.NewBytes(nil)
			var got []byte
			for off := 0; off < len(in); off += chunk {
				src.Write(in[off:min(off+chunk, len(in))])
				for {
					out, v, _ := h.serve(src, st, sh)
					got = append(got, out...)
					if v == httpClose {
						return string(got), true
					}
					if v != httpFull {
						break
					}
				}
			}
			return string(got), false
		}
		whole, wholeClosed := run(max(len(in), 1))
		split, splitClosed := run(int(step%16) + 1)
		if whole != split || wholeClosed != splitClosed {
			t.Fatalf("whole input: closed=%v %q\nin pieces of %d: closed=%v %q", wholeClosed, whole, step%16+1, splitClosed, split)
		}
	})
}

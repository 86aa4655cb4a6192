package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// httpServer serves mux over s's Listener with net/http's own server.
// Cleanup shuts it down; Serve must end with http.ErrServerClosed.
func httpServer(t *testing.T, s *server, srv *http.Server) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})
}

// testMux answers /hello with a greeting and /echo with the request's
// body.
func testMux(hits *atomic.Int64) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "hello from the shards")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// The whole body first: net/http may cut off the rest of a
		// request body once the answer's head has gone out.
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	})
	return mux
}

// run runs a client program bounded by 60 s and returns its output.
func run(t *testing.T, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v; stderr: %s", name, args, err, stderr.String())
	}
	return string(out)
}

func TestHTTPCurl(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	var hits atomic.Int64
	httpServer(t, s, &http.Server{Handler: testMux(&hits)})
	base := "http://" + s.addr

	if got := run(t, nil, "curl", "-sS", "--max-time", "10", base+"/hello"); got != "hello from the shards" {
		t.Fatalf("curl /hello = %q", got)
	}
	// A request body of 4 MiB, larger than every buffer on the way.
	body := bytes.Repeat([]byte("0123456789abcdef"), 256<<10)
	got := run(t, bytes.NewReader(body), "curl", "-sS", "--max-time", "30", "--data-binary", "@-", base+"/echo")
	if sha256.Sum256([]byte(got)) != sha256.Sum256(body) {
		t.Fatalf("curl /echo returned %d bytes, not the %d sent", len(got), len(body))
	}
	// Several requests on one keep-alive connection.
	got = run(t, nil, "curl", "-sS", "--max-time", "10", base+"/hello", base+"/hello", base+"/hello")
	if got != strings.Repeat("hello from the shards", 3) {
		t.Fatalf("curl keep-alive = %q", got)
	}
	if hits.Load() != 5 {
		t.Fatalf("handler ran %d times, want 5", hits.Load())
	}
}

// wrkRequests matches wrk's "N requests in D, B read" line.
var wrkRequests = regexp.MustCompile(`(\d+) requests in`)

func TestHTTPWrk(t *testing.T) {
	pipeline := filepath.Join(t.TempDir(), "pipeline.lua")
	// Sixteen requests per write, as wrk's own pipeline example does.
	script := `init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/hello") end
  req = table.concat(r)
end
request = function() return req end
`
	if err := os.WriteFile(pipeline, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"pipelined", []string{"-s", pipeline}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, "tcp://127.0.0.1:0")
			var hits atomic.Int64
			httpServer(t, s, &http.Server{Handler: testMux(&hits)})
			args := append([]string{"-t1", "-c32", "-d1s", "--timeout", "5s"}, tc.args...)
			out := run(t, nil, "wrk", append(args, "http://"+s.addr+"/hello")...)
			m := wrkRequests.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no request count in wrk's output:\n%s", out)
			}
			n, _ := strconv.Atoi(m[1])
			if n < 100 {
				t.Fatalf("wrk completed %d requests:\n%s", n, out)
			}
			if strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") {
				t.Fatalf("wrk saw errors:\n%s", out)
			}
			if h := hits.Load(); h < int64(n) {
				t.Fatalf("handler ran %d times, wrk counted %d answers", h, n)
			}
			t.Logf("%s: %d requests", tc.name, n)
		})
	}
}

// TestHTTPClientOverDialer runs net/http's client over our Dialer against
// the server over our Listener: keep-alive connections, bodies both ways,
// many goroutines.
func TestHTTPClientOverDialer(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	var hits atomic.Int64
	httpServer(t, s, &http.Server{Handler: testMux(&hits)})
	tr := &http.Transport{DialContext: s.d.DialContext, MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				body := bytes.Repeat([]byte{byte('a' + g)}, 1+i*997)
				resp, err := client.Post("http://"+s.addr+"/echo", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					errs <- fmt.Errorf("echo of %d bytes: got %d, %v", len(body), len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if hits.Load() != 200 {
		t.Fatalf("handler ran %d times, want 200", hits.Load())
	}
}

func TestHTTPShutdownWaitsForInFlight(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
		io.WriteString(w, "done")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.ln) }()

	results := make(chan string, 4)
	for range 4 {
		go func() {
			c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				results <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			results <- string(b)
		}()
	}
	started.Wait()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with 4 requests in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// The listener is closed: a new connection is refused by it.
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := s.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
	close(release)
	for range 4 {
		if got := <-results; got != "done" {
			t.Fatalf("in-flight request got %q", got)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestHTTPSlowlorisCut sends a request head one byte at a time, forever:
// net/http's ReadHeaderTimeout, through our deadlines, must cut it.
func TestHTTPSlowlorisCut(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	var hits atomic.Int64
	httpServer(t, s, &http.Server{Handler: testMux(&hits), ReadHeaderTimeout: 300 * time.Millisecond})
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	head := "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("z", 1000)
	cut := false
	for i := 0; i < len(head) && time.Since(start) < 5*time.Second; i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			cut = true
			break
		}
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cut = true // EOF or reset: the server closed it
			break
		}
	}
	took := time.Since(start)
	if !cut {
		t.Fatalf("the slow client was not cut off in %v", took)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("cut after %v; ReadHeaderTimeout is 300ms", took)
	}
	if hits.Load() != 0 {
		t.Fatalf("the handler ran for a request never completed")
	}
	// The server still serves others.
	if got := run(t, nil, "curl", "-sS", "--max-time", "10", "http://"+s.addr+"/hello"); got != "hello from the shards" {
		t.Fatalf("curl after slowloris = %q", got)
	}
}

func TestHTTPHijack(t *testing.T) {
	s := startServer(t, "tcp://127.0.0.1:0")
	httpServer(t, s, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	})})
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answer: %v, %v", resp, err)
	}
	io.WriteString(c, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: ping\n" {
		t.Fatalf("after Hijack read %q, %v", line, err)
	}
}

//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/syncbuf"
)

// proxyModes are the two relay paths every proxy test runs through.
var proxyModes = []struct {
	name string
	args []string
}{
	{name: "copy"},
	{name: "splice", args: []string{"-splice"}},
}

// startProxy runs "shardnet proxy" on a free loopback port in front of
// backends and returns it with its standard error, where it logs.
func startProxy(t *testing.T, backends []string, extra ...string) (*server, *syncbuf.Buffer) {
	t.Helper()
	args := append([]string{"proxy", "-listen", "127.0.0.1:0", "-backend", strings.Join(backends, ",")}, extra...)
	stderr := &syncbuf.Buffer{}
	return startProcess(t, io.MultiWriter(stderr, os.Stderr), args...), stderr
}

func TestProxyIperf3(t *testing.T) {
	needTool(t, "iperf3")
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			port := startIperf3Server(t)
			p, _ := startProxy(t, []string{"127.0.0.1:" + port}, mode.args...)
			host, pport := hostPort(p.addr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			js, err := exec.CommandContext(ctx, "iperf3", "-c", host, "-p", pport, "-t", "3", "-J").Output()
			var rep struct {
				Error string `json:"error"`
				End   struct {
					SumSent struct {
						BitsPerSecond float64 `json:"bits_per_second"`
					} `json:"sum_sent"`
					SumReceived struct {
						BitsPerSecond float64 `json:"bits_per_second"`
						Bytes         int64   `json:"bytes"`
					} `json:"sum_received"`
				} `json:"end"`
			}
			if jerr := json.Unmarshal(js, &rep); jerr != nil {
				t.Fatalf("iperf3 -J output does not parse (%v; run: %v):\n%s", jerr, err, js)
			}
			if err != nil || rep.Error != "" {
				t.Fatalf("iperf3 through the proxy: %v %q", err, rep.Error)
			}
			if rep.End.SumReceived.BitsPerSecond <= 0 || rep.End.SumReceived.Bytes <= 0 {
				t.Fatalf("iperf3 reports no throughput: %+v", rep.End)
			}
			t.Logf("iperf3 through proxy (%s, race=%v): %.2f Gbit/s received", mode.name, raceEnabled, rep.End.SumReceived.BitsPerSecond/1e9)
			p.stop(t)
		})
	}
}

// hashingBackend accepts one connection, hashes everything it reads until
// EOF, then answers with the hex SHA-256 and closes: the answer after the
// client's half-close checks the way back too. With pace > 0 it sleeps that
// long after each read of at most 64 KiB, so the proxy's writes to it fill
// the socket and stall.
func hashingBackend(t *testing.T, pace time.Duration) (addr string, sum <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		h := sha256.New()
		var r io.Reader = c
		if pace > 0 {
			r = &pacedReader{r: c, pace: pace}
		}
		if _, err := io.Copy(h, r); err != nil {
			ch <- "read: " + err.Error()
			return
		}
		s := hex.EncodeToString(h.Sum(nil))
		c.Write([]byte(s + "\n"))
		ch <- s
	}()
	return ln.Addr().String(), ch
}

// pacedReader reads at most 64 KiB at a time and sleeps after each read.
type pacedReader struct {
	r    io.Reader
	pace time.Duration
}

func (p *pacedReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b[:min(len(b), 64<<10)])
	time.Sleep(p.pace)
	return n, err
}

func TestProxy100MiBWithNetcat(t *testing.T) {
	// One file for both modes: 100 MiB from a seeded generator.
	path := filepath.Join(t.TempDir(), "100MiB")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{'s', 'h', 'a', 'r', 'd'})
	want := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, want), rng, 100<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantSum := hex.EncodeToString(want.Sum(nil))

	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			baddr, got := hashingBackend(t, 0)
			p, _ := startProxy(t, []string{baddr}, mode.args...)
			host, port := hostPort(p.addr)
			in, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "nc", "-N", host, port)
			cmd.Stdin = in
			start := time.Now()
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("nc -N: %v", err)
			}
			if s := <-got; s != wantSum {
				t.Fatalf("backend received sha256 %s, want %s", s, wantSum)
			}
			if strings.TrimSpace(string(out)) != wantSum {
				t.Fatalf("nc got back %q, want the digest %s", out, wantSum)
			}
			t.Logf("100 MiB through proxy (%s) in %v", mode.name, time.Since(start).Round(time.Millisecond))
			p.stop(t)
		})
	}
}

func TestProxyHalfCloseDeliversReply(t *testing.T) {
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0")
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			p, _ := startProxy(t, []string{echo.addr}, mode.args...)
			host, port := hostPort(p.addr)
			payload := strings.Repeat("half-close through the proxy\n", 5000)
			for i := 0; i < 3; i++ {
				// nc -N shuts its write side after stdin; the echo
				// server sees that EOF only if the proxy passes it on,
				// and nc ends only if the proxy passes the server's.
				if got := runClient(t, payload, "nc", "-N", host, port); got != payload {
					t.Fatalf("reply %d bytes, want %d", len(got), len(payload))
				}
			}
			out := p.stop(t)
			if !strings.Contains(out, "opened=6 closed=6") {
				t.Fatalf("want 3 clients and 3 upstreams opened and closed:\n%s", out)
			}
		})
	}
	echo.stop(t)
}

func TestProxyBackendDown(t *testing.T) {
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0")
	tests := []struct {
		name      string
		backends  []string
		wantReply bool
		wantLog   []string
	}{
		{
			name:      "one of two down",
			backends:  []string{freeAddr(t), echo.addr},
			wantReply: true,
			wantLog:   []string{"backend ejected after connect errors", "for=5s"},
		},
		{
			name:     "all down",
			backends: []string{freeAddr(t), freeAddr(t)},
			wantLog:  []string{"no backend answered"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, stderr := startProxy(t, tc.backends, "-connect-timeout", "1s")
			host, port := hostPort(p.addr)
			for i := 0; i < 6; i++ {
				got := runClient(t, "ping\n", "nc", "-N", host, port)
				if tc.wantReply && got != "ping\n" {
					t.Fatalf("client %d got %q, want the echo", i, got)
				}
				if !tc.wantReply && got != "" {
					t.Fatalf("client %d got %q, want to be closed", i, got)
				}
			}
			p.stop(t)
			log := stderr.String()
			for _, w := range tc.wantLog {
				if !strings.Contains(log, w) {
					t.Fatalf("proxy log lacks %q:\n%s", w, log)
				}
			}
			// Skipped for -down-for: one log line per outage, not per
			// client.
			if n := strings.Count(log, "backend ejected"); n != len(tc.backends)-btoi(tc.wantReply) {
				t.Fatalf("%d 'is down' lines, want one per dead backend:\n%s", n, log)
			}
		})
	}
	echo.stop(t)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// vmRSS reads a process's resident set size in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status := fmt.Sprintf("/proc/%d/status", pid)
	rss, ok := rssOf(status)
	if !ok {
		t.Fatalf("no VmRSS in %s", status)
	}
	return rss
}

func TestProxyBackPressureBoundsMemory(t *testing.T) {
	const total = 160 << 20 // well over what the proxy may hold
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			// A backend that reads nothing for 2 s, then reads slowly.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var received atomic.Int64
			backendDone := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					backendDone <- err
					return
				}
				defer c.Close()
				time.Sleep(2 * time.Second)
				buf := make([]byte, 256<<10)
				for {
					n, err := c.Read(buf)
					received.Add(int64(n))
					if err == io.EOF {
						backendDone <- nil
						return
					}
					if err != nil {
						backendDone <- err
						return
					}
					time.Sleep(time.Millisecond) // at most ~250 MB/s
				}
			}()
			p, _ := startProxy(t, []string{ln.Addr().String()}, mode.args...)
			pid := p.cmd.Process.Pid
			base := vmRSS(t, pid)

			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sendDone := make(chan error, 1)
			go func() {
				chunk := bytes.Repeat([]byte("back-pressure!\n"), 64<<10/15)
				sent := 0
				for sent < total {
					n, err := c.Write(chunk[:min(len(chunk), total-sent)])
					sent += n
					if err != nil {
						sendDone <- err
						return
					}
				}
				sendDone <- c.(*net.TCPConn).CloseWrite()
			}()
			peak := base
			deadline := time.After(60 * time.Second)
		wait:
			for {
				select {
				case err := <-sendDone:
					if err != nil {
						t.Fatalf("client write: %v", err)
					}
					sendDone = nil
				case err := <-backendDone:
					if err != nil {
						t.Fatalf("backend: %v", err)
					}
					break wait
				case <-deadline:
					t.Fatalf("stuck: backend received %d of %d bytes", received.Load(), total)
				case <-time.After(20 * time.Millisecond):
					peak = max(peak, vmRSS(t, pid))
				}
			}
			if got := received.Load(); got != total {
				t.Fatalf("backend received %d bytes, want %d", got, total)
			}
			// Without back-pressure the proxy would hold what the
			// backend had not read: most of the 160 MiB during the first
			// 2 s. Its bound is about 1 MiB per direction plus pooled
			// buffers; the margin covers the runtime (and -race).
			grew := peak - base
			t.Logf("proxy (%s) RSS %d MiB at start, peak %d MiB (+%d MiB) while relaying %d MiB to a slow reader",
				mode.name, base>>20, peak>>20, grew>>20, total>>20)
			if grew > 48<<20 {
				t.Fatalf("proxy RSS grew by %d MiB: back-pressure does not bound memory", grew>>20)
			}
			p.stop(t)
		})
	}
}

func TestProxyFlags(t *testing.T) {
	runDispatchCases(t, []string{"proxy"}, []dispatchCase{
		{name: "help shows examples", args: []string{"-help"}, wantCode: 0, wantErr: "examples:"},
		{name: "no backend", args: []string{"-listen", "127.0.0.1:0"}, wantCode: 2, wantErr: "-backend is required"},
		{name: "backend without port", args: []string{"-listen", "127.0.0.1:0", "-backend", "localhost"}, wantCode: 2, wantErr: "want host:port"},
		{name: "zero connect timeout", args: []string{"-backend", "127.0.0.1:1", "-connect-timeout", "0s"}, wantCode: 2, wantErr: "-connect-timeout"},
		{name: "unknown policy", args: []string{"-backend", "127.0.0.1:1", "-policy", "fastest"}, wantCode: 2, wantErr: "WithPolicy"},
		{name: "bad check escape", args: []string{"-backend", "127.0.0.1:1", "-check-interval", "1s", "-check-send", `\q`}, wantCode: 2, wantErr: "-check-send"},
		{name: "check fall", args: []string{"-backend", "127.0.0.1:1", "-check-interval", "1s", "-check-fall", "-1"}, wantCode: 2, wantErr: "Fall >= 1"},
	})
}

// TestProxySlowBackendKeepsBytesInOrder sends random bytes to a backend that
// reads slowly, so the relay's writes to it end short again and again (with
// -splice: bytes wait in the pipe while a head of them is queued), and
// checks the digest of what arrived.
func TestProxySlowBackendKeepsBytesInOrder(t *testing.T) {
	const total = 24 << 20
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{'s', 'l', 'o', 'w'}).Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			baddr, got := hashingBackend(t, 200*time.Microsecond)
			p, _ := startProxy(t, []string{baddr}, mode.args...)
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			werr := make(chan error, 1)
			go func() {
				// Uneven chunks, so the relay sees leads and splices of
				// every size.
				rng := rand.New(rand.NewPCG(1, 2))
				for off := 0; off < total; {
					n := min(total-off, 1+rng.IntN(300<<10))
					if _, err := c.Write(data[off : off+n]); err != nil {
						werr <- err
						return
					}
					off += n
				}
				werr <- c.(*net.TCPConn).CloseWrite()
			}()
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the reply: %v", err)
			}
			if err := <-werr; err != nil {
				t.Fatalf("client write: %v", err)
			}
			if s := <-got; s != want {
				t.Fatalf("backend received sha256 %s, want %s", s, want)
			}
			if strings.TrimSpace(string(reply)) != want {
				t.Fatalf("client got back %q, want the digest", reply)
			}
			p.stop(t)
		})
	}
}

// TestProxyCurlToHTTPBackend: curl, keep-alive and several requests on one
// connection, through the proxy (two backends, least connections, an L7
// health check in the HTTP the backend speaks) to shardnet http.
func TestProxyCurlToHTTPBackend(t *testing.T) {
	needTool(t, "curl")
	h1 := startServer(t, "http", "-addr", "127.0.0.1:0")
	h2 := startServer(t, "http", "-addr", "127.0.0.1:0")
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			p, _ := startProxy(t, []string{h1.addr, h2.addr}, append([]string{"-policy", "lc",
				"-check-interval", "200ms", "-check-send", `GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n`, "-check-expect", "200 OK"}, mode.args...)...)
			url := "http://" + p.addr + "/plaintext"
			out := runClient(t, "", "curl", "-sS", "--fail", url, url, url)
			if want := strings.Repeat("Hello, World!", 3); out != want {
				t.Fatalf("curl through the proxy: %q, want %q", out, want)
			}
			js := runClient(t, "", "curl", "-sS", "--fail", "http://"+p.addr+"/json")
			if !strings.Contains(js, `"Hello, World!"`) {
				t.Fatalf("curl /json through the proxy: %q", js)
			}
			out = p.stop(t)
			if !strings.Contains(out, "proxy: clients=2 relayed=2 no-backend=0") {
				t.Fatalf("want 2 clients relayed (curl reuses its connection):\n%s", out)
			}
		})
	}
	h1.stop(t)
	h2.stop(t)
}

// TestProxyHealthCheckFlags: a backend that accepts and never answers is
// taken out of the rotation by the -check-send/-check-expect check, so
// every client reaches the one that answers.
func TestProxyHealthCheckFlags(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }() // reads, never answers
		}
	}()
	echo := startServer(t, "echo", "-addr", "127.0.0.1:0")
	p, stderr := startProxy(t, []string{silent.Addr().String(), echo.addr},
		"-check-interval", "100ms", "-check-timeout", "80ms", "-check-fall", "2",
		"-check-send", `PING\n`, "-check-expect", "PING")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "backend out of rotation") {
		if time.Now().After(deadline) {
			t.Fatalf("the silent backend was not taken out:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	host, port := hostPort(p.addr)
	for i := range 6 {
		if got := runClient(t, "hello\n", "nc", "-N", host, port); got != "hello\n" {
			t.Fatalf("client %d got %q: relayed to the silent backend?", i, got)
		}
	}
	p.stop(t)
	echo.stop(t)
}

// TestProxyDrainOnSIGTERM: SIGTERM while uploads are in flight closes the
// listener at once, lets the transfers finish, and exits cleanly.
func TestProxyDrainOnSIGTERM(t *testing.T) {
	baddr, got := hashingBackend(t, 0)
	p, _ := startProxy(t, []string{baddr}, "-drain-timeout", "20s")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{'d'}).Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	sent := make(chan error, 1)
	go func() {
		// Paced: the upload is still going when SIGTERM comes.
		for off := 0; off < len(data); off += 256 << 10 {
			if _, err := c.Write(data[off : off+256<<10]); err != nil {
				sent <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		sent <- c.(*net.TCPConn).CloseWrite()
	}()
	time.Sleep(50 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	// The listener closes as the drain starts: once the proxy says it
	// drains, new clients are refused. (A probe sent before that could be
	// accepted, and its pair, half-closed, would rightly hold the drain
	// to its deadline.)
	line, err := p.stdout.ReadString('\n')
	if err != nil || !strings.Contains(line, "draining") {
		t.Fatalf("after SIGTERM the proxy said %q (%v), want that it drains", line, err)
	}
	time.Sleep(100 * time.Millisecond)
	if nc, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		nc.Close()
		t.Fatal("the proxy still accepts while draining")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a new client while draining: %v, want refused", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("upload during the drain: %v", err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reply during the drain: %v", err)
	}
	if s := <-got; s != want || strings.TrimSpace(string(reply)) != want {
		t.Fatalf("backend sha256 %s, client got %q, want %s", s, reply, want)
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		io.Copy(&out, p.stdout)
		done <- p.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("proxy exit after the drain: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("the proxy did not exit after the drain:\n%s", out.String())
	}
	if strings.Contains(out.String(), "drain: ") {
		t.Fatalf("want a drain that completed:\n%s", out.String())
	}
}

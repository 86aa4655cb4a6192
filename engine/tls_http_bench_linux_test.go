package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Keep-alive HTTPS through the engine's TLS server path, with the client in
// a child process (this test binary re-executed, mode tls-http-client), so
// that the allocations counted in this process are the server's alone:
// crypto/tls's client allocates on its own account and would be mixed in.

// tlsHTTPClientEnv carries the child client's settings: addr|ca file|depth.
const tlsHTTPClientEnv = "SHARDNET_TLS_HTTP_CLIENT"

// plainHTTP answers every whole request head in its input ("\r\n\r\n"
// ends it; the benchmark's GETs have no body) with one fixed 200 response,
// the answers to one read leaving in one write.
type plainHTTP struct {
	BaseHandler
	resp []byte
	out  []byte // the answers of one callback; the shard is the only user
}

func newPlainHTTP() *plainHTTP {
	return &plainHTTP{resp: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")}
}

func (h *plainHTTP) OnTraffic(c *Conn) {
	in, err := c.Peek(c.Buffered())
	if err != nil {
		return
	}
	h.out = h.out[:0]
	used := 0
	for {
		i := bytes.Index(in[used:], []byte("\r\n\r\n"))
		if i < 0 {
			break
		}
		used += i + 4
		h.out = append(h.out, h.resp...)
	}
	if used == 0 {
		return
	}
	_, _ = c.Discard(used)
	_, _ = c.Write(h.out)
}

// tlsHTTPClient is the child client seen from the parent: ask makes it
// send n requests, depth in flight, and returns once every answer came
// back whole and correct.
type tlsHTTPClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startTLSHTTPClient starts the child client against addr, trusting the
// test PKI's authority; cleanup ends it.
func startTLSHTTPClient(tb testing.TB, addr string, pki *testPKI, depth int) *tlsHTTPClient {
	tb.Helper()
	caFile := filepath.Join(tb.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.ca.PEM(), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=tls-http-client",
		tlsHTTPClientEnv+"="+strings.Join([]string{addr, caFile, strconv.Itoa(depth)}, "|"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &tlsHTTPClient{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("client child: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			tb.Error("client child still running 10 s after its stdin closed; killed")
		}
	})
	return c
}

func (c *tlsHTTPClient) ask(n int) error {
	if _, err := fmt.Fprintf(c.stdin, "%d\n", n); err != nil {
		return err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("client child: %w", err)
	}
	if line != "ok\n" {
		return fmt.Errorf("client child: %s", strings.TrimSpace(line))
	}
	return nil
}

// runTLSHTTPClient is the child: one TLS 1.3 keep-alive connection; for
// every count N read from stdin it makes N requests, depth written in one
// go and their answers read and compared byte for byte, then prints "ok"
// (or the error). It ends when stdin closes.
func runTLSHTTPClient() int {
	fail := func(err error) int {
		fmt.Println("error:", err)
		return 1
	}
	parts := strings.Split(os.Getenv(tlsHTTPClientEnv), "|")
	if len(parts) != 3 {
		return fail(errors.New(tlsHTTPClientEnv + ": want addr|ca|depth"))
	}
	depth, err := strconv.Atoi(parts[2])
	if err != nil || depth < 1 {
		return fail(fmt.Errorf("depth %q", parts[2]))
	}
	pem, err := os.ReadFile(parts[1])
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", parts[0], &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n")
	want := newPlainHTTP().resp
	reqs := bytes.Repeat(req, depth)
	wants := bytes.Repeat(want, depth)
	got := make([]byte, len(wants))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		if err != nil {
			return fail(err)
		}
		for n > 0 {
			k := min(n, depth)
			if _, err := conn.Write(reqs[:k*len(req)]); err != nil {
				return fail(err)
			}
			if _, err := io.ReadFull(conn, got[:k*len(want)]); err != nil {
				return fail(err)
			}
			if !bytes.Equal(got[:k*len(want)], wants[:k*len(want)]) {
				return fail(fmt.Errorf("answer %q", got[:min(80, k*len(want))]))
			}
			n -= k
		}
		fmt.Println("ok")
	}
	return 0
}

// startTLSHTTP serves plainHTTP over TLS on one shard and returns its
// address.
func startTLSHTTP(tb testing.TB, pki *testPKI) string {
	tb.Helper()
	e, _ := startEngine(tb, newPlainHTTP(), WithShards(1))
	a, err := e.Listen("tcp://127.0.0.1:0", ListenTLS(pki.server()))
	if err != nil {
		tb.Fatal(err)
	}
	return a.String()
}

// BenchmarkTLSHTTPKeepAlive times keep-alive HTTPS requests through the
// engine's TLS server path, one at a time (x1) and 16 pipelined (x16).
// allocs/op is the server's process alone: the client is a child
// process, so it counts only the engine, crypto/tls's server side and the
// handler (and the benchmark's two pipe lines per run, a handful in all).
func BenchmarkTLSHTTPKeepAlive(b *testing.B) {
	pki := newTestPKI(b)
	for _, depth := range []int{1, 16} {
		b.Run("x"+strconv.Itoa(depth), func(b *testing.B) {
			cl := startTLSHTTPClient(b, startTLSHTTP(b, pki), pki, depth)
			if err := cl.ask(2000); err != nil { // warm-up: pools filled, buffers grown
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := cl.ask(b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// TestTLSHTTPAllocs: in steady state a keep-alive HTTPS request costs the
// server's process (engine, handler, crypto/tls) at most one allocation
// per TLS record it receives, and that one is crypto/tls's own:
// (*tls.Conn).readFromUntil wraps the transport in a new atLeastReader
// each time its input holds less than a record header, i.e. once for the
// first record of every read (a heap profile of BenchmarkTLSHTTPKeepAlive
// shows it as the only allocation site). The engine and the handler add
// none. The client sends each batch of depth requests as one record, so
// x1 is one record per request and x16 one per 16.
func TestTLSHTTPAllocs(t *testing.T) {
	pki := newTestPKI(t)
	for _, depth := range []int{1, 16} {
		t.Run("x"+strconv.Itoa(depth), func(t *testing.T) {
			cl := startTLSHTTPClient(t, startTLSHTTP(t, pki), pki, depth)
			if err := cl.ask(1000); err != nil {
				t.Fatal(err)
			}
			const reqs = 16000
			records := reqs / depth
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := cl.ask(reqs); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			mallocs := after.Mallocs - before.Mallocs
			perRecord := float64(mallocs) / float64(records)
			t.Logf("%d mallocs in the server's process over %d requests in %d records: %.4f per request, %.4f per record",
				mallocs, reqs, records, float64(mallocs)/reqs, perRecord)
			// Without -race: crypto/tls's one, and a few of the run's
			// own (the pipe lines) spread over the records. Under -race
			// sync.Pool drops a quarter of what it is given, and a
			// record takes about ten pooled objects (wire, plaintext and
			// outbound blocks, boxes, segments), so about 2.5 more per
			// record are remade (3.3–3.5 measured): the bound then only
			// catches an allocation of ours on every record or more.
			limit := 1.05
			if raceEnabled {
				limit = 6.0
			}
			if perRecord >= limit {
				t.Fatalf("%.4f allocations per TLS record received, want < %v (crypto/tls's one and nothing of ours)", perRecord, limit)
			}
		})
	}
}

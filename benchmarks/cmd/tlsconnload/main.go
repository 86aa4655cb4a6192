// Command tlsconnload opens new TLS connections as fast as it can, one
// HTTPS request on each: the load of the benchmark's tlsconn suite
// (issue 16), which wrk cannot make (wrk keeps its connections, and its
// OpenSSL client does not resume sessions).
//
// -c workers each loop: dial TCP, TLS 1.3 handshake (key exchange X25519
// only, so every server meets the same curve), GET /plaintext with
// "Connection: close", read and check the whole answer (status 200,
// Content-Length 13, "Hello, World!"), close. With -resume the workers
// share a tls.ClientSessionCache, so after the first connection the
// handshakes resume a session from a ticket (still an X25519 exchange:
// Go's client offers psk_dhe_ke only); a run where under 90 % of the
// connections resumed counts the rest as errors, since it would not be
// measuring what it says. Without -resume every handshake is full, and one
// that resumed is an error.
//
// The server's certificate is checked by pinning: the leaf must be the
// exact certificate of -cert (byte for byte), and crypto/tls verifies the
// handshake's signature with it as always. The chain is not verified
// against an authority, which would add an ECDSA verification per
// connection to a one-core client that already saturates first.
//
// It prints "bench: ..." on stderr when the clock starts and, at the end,
// the JSON object of `shardnet bench -json` (messages = connections
// completed, msgs_per_sec, seconds, latency_us of a whole connection from
// dial to answer, errors, error_messages) on stdout, with the negotiated
// version, cipher suite and curve of the first connection.
//
//	tlsconnload -addr 127.0.0.1:8443 -cert cert.pem -c 16 -duration 3s -resume -json
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const body = "Hello, World!"

// result is the JSON report; its first fields are those of
// `shardnet bench -json` that the driver reads.
type result struct {
	Mode          string             `json:"mode"`
	Addr          string             `json:"addr"`
	Workers       int                `json:"connections"`
	Seconds       float64            `json:"seconds"`
	Messages      uint64             `json:"messages"`
	MsgsPerSec    float64            `json:"msgs_per_sec"`
	LatencyUs     map[string]float64 `json:"latency_us,omitempty"`
	Resumed       uint64             `json:"resumed"`
	Version       string             `json:"tls_version"`
	Cipher        string             `json:"cipher_suite"`
	Curve         string             `json:"curve"`
	Errors        int                `json:"errors"`
	Mismatch      bool               `json:"mismatch"`
	ErrorMessages []string           `json:"error_messages"`
}

// worker is one closed loop's tally.
type worker struct {
	done, resumed uint64
	lat           []time.Duration
}

// errLog counts errors and keeps the first few messages.
type errLog struct {
	mu   sync.Mutex
	n    int
	msgs []string
	bad  bool // a wrong answer, not a failed connection
}

func (e *errLog) add(mismatch bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	e.bad = e.bad || mismatch
	if len(e.msgs) < 10 {
		e.msgs = append(e.msgs, err.Error())
	}
}

var errAnswer = errors.New("not the plaintext answer")

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "server host:port")
	certFile := flag.String("cert", "", "the server's certificate (PEM): the leaf it must present")
	workers := flag.Int("c", 16, "connections in flight (closed loop)")
	duration := flag.Duration("duration", 3*time.Second, "how long to open connections")
	resume := flag.Bool("resume", false, "resume sessions from tickets (a shared ClientSessionCache)")
	asJSON := flag.Bool("json", false, "print the JSON report")
	flag.Parse()
	if *certFile == "" || *workers < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "usage: tlsconnload -addr host:port -cert cert.pem [-c 16] [-duration 3s] [-resume] [-json]")
		os.Exit(2)
	}
	leaf, err := leafDER(*certFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsconnload:", err)
		os.Exit(2)
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
		ServerName:         "localhost",
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("the server's certificate is not the pinned one")
			}
			return nil
		},
	}
	if *resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	host, _, _ := strings.Cut(*addr, ":")
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")

	var (
		errs  errLog
		first atomic.Pointer[tls.ConnectionState]
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	ws := make([]worker, *workers)
	if *resume {
		// One connection before the clock, so that every worker finds a
		// session from its first connection on and the share resumed
		// says whether the server resumes, not how long the run was.
		if _, err := oneConn(*addr, cfg, req, make([]byte, 4096)); err != nil {
			fmt.Fprintln(os.Stderr, "tlsconnload: the first connection:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: tls connections to %s, %d workers, resume %v, %v\n", *addr, *workers, *resume, *duration)
	start := time.Now()
	for i := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			buf := make([]byte, 4096)
			for !stop.Load() {
				t0 := time.Now()
				cs, err := oneConn(*addr, cfg, req, buf)
				if stop.Load() {
					return // cut short by the end of the run: not counted
				}
				if err != nil {
					errs.add(errors.Is(err, errAnswer), err)
					continue
				}
				if first.Load() == nil {
					first.CompareAndSwap(nil, &cs)
				}
				w.done++
				if cs.DidResume {
					w.resumed++
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		}(&ws[i])
	}
	time.Sleep(*duration)
	stop.Store(true)
	secs := time.Since(start).Seconds()
	wg.Wait()

	res := result{Mode: "tls-connections", Addr: *addr, Workers: *workers, Seconds: secs}
	var lat []time.Duration
	for _, w := range ws {
		res.Messages += w.done
		res.Resumed += w.resumed
		lat = append(lat, w.lat...)
	}
	res.MsgsPerSec = float64(res.Messages) / secs
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
		res.LatencyUs = map[string]float64{"p50": q(0.50), "p90": q(0.90), "p99": q(0.99), "max": float64(lat[len(lat)-1].Microseconds())}
	}
	if cs := first.Load(); cs != nil {
		res.Version = tls.VersionName(cs.Version)
		res.Cipher = tls.CipherSuiteName(cs.CipherSuite)
		res.Curve = cs.CurveID.String()
		if cs.CurveID != tls.X25519 {
			errs.add(false, fmt.Errorf("key exchange %v, want X25519", cs.CurveID))
		}
	}
	switch {
	case *resume && res.Messages > 0 && float64(res.Resumed) < 0.9*float64(res.Messages):
		errs.add(false, fmt.Errorf("%d of %d connections resumed a session, want at least 90 %%", res.Resumed, res.Messages))
	case !*resume && res.Resumed > 0:
		errs.add(false, fmt.Errorf("%d connections resumed without a session cache", res.Resumed))
	}
	res.Errors, res.Mismatch, res.ErrorMessages = errs.n, errs.bad, errs.msgs
	if res.ErrorMessages == nil {
		res.ErrorMessages = []string{}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
	} else {
		fmt.Printf("connections %d in %.2fs: %.0f/s, %d resumed; %s %s %s; errors %d\n", res.Messages, secs, res.MsgsPerSec,
			res.Resumed, res.Version, res.Cipher, res.Curve, res.Errors)
	}
	for _, m := range errs.msgs {
		fmt.Fprintln(os.Stderr, "tlsconnload:", m)
	}
	if res.Errors > 0 {
		os.Exit(1)
	}
}

// oneConn makes one connection, one request and checks its answer.
func oneConn(addr string, cfg *tls.Config, req, buf []byte) (tls.ConnectionState, error) {
	raw, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := tls.Client(raw, cfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("handshake: %w", err)
	}
	if _, err := c.Write(req); err != nil {
		return tls.ConnectionState{}, err
	}
	if err := readAnswer(bufio.NewReaderSize(c, len(buf)), buf); err != nil {
		return tls.ConnectionState{}, err
	}
	// The session ticket came before the answer; the state says whether
	// this handshake resumed.
	return c.ConnectionState(), nil
}

// readAnswer reads one response and checks it is the plaintext answer.
func readAnswer(r *bufio.Reader, buf []byte) error {
	status, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if status != "HTTP/1.1 200 OK\r\n" {
		return fmt.Errorf("%w: status line %q", errAnswer, status)
	}
	length := -1
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the answer's head: %w", err)
		}
		if h == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(h), "content-length:"); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length != len(body) {
		return fmt.Errorf("%w: Content-Length %d", errAnswer, length)
	}
	if _, err := io.ReadFull(r, buf[:length]); err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if string(buf[:length]) != body {
		return fmt.Errorf("%w: body %q", errAnswer, buf[:length])
	}
	return nil
}

// leafDER reads the first certificate of a PEM file.
func leafDER(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return blk.Bytes, nil
}

// Command tlsidle measures a server's RSS per idle connection, TLS and
// plaintext, for shardnet's HTTP server (shardnet http) and Go's net/http
// (with crypto/tls for TLS), side by side (issue 16). Each cell starts the
// server on CPU 0 with GOMAXPROCS=1, reads its RSS, has cmd/idleclient (a
// child process on CPU 1, so the clients' own TLS state is not counted)
// open -n connections, and reads the RSS again once the server holds them
// all and a second has passed: the difference over -n is the cost of one
// idle connection. The TLS cells are taken twice: right after the
// handshake (TLS 1.3, X25519, an ECDSA P-256 certificate, verified by the
// client), and after one request with a 16 KiB body on each connection,
// which makes crypto/tls grow its input buffer to a whole record and keep
// it for the connection's life.
//
//	tlsidle -bin DIR -n 10000 -rounds 2 > results.md
//
// DIR holds the shardnet and idleclient binaries (built beforehand: a
// measurement window has no compile in it). With -serve ADDR the command
// is instead the net/http server of a cell (the driver starts itself so).
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
	"github.com/shardnet/shardnet/internal/tlscert"
)

// requestBody is the body of the request the "request" cells send: a
// whole TLS record's worth of plaintext.
const requestBody = 16 << 10

var (
	serverPin = procstat.Pin{CPU: 0, GOMAXPROCS: 1}
	clientPin = procstat.Pin{CPU: 1, GOMAXPROCS: 1}
)

// cell is one measurement: a server, plaintext or TLS, and what each
// connection did before it went idle.
type cell struct {
	server string // "shardnet" or "nethttp"
	tls    bool
	state  string // "handshake" (TLS only: nothing sent after it) or "request" (one 16 KiB request answered)
}

func (c cell) name() string {
	proto := "plain"
	if c.tls {
		proto = "tls"
	}
	return c.server + "/" + proto + "/" + c.state
}

func main() {
	serve := flag.String("serve", "", "be the net/http server of a cell on this address (the driver starts itself so)")
	certFile := flag.String("cert", "", "with -serve: certificate chain (PEM); none: plaintext")
	keyFile := flag.String("key", "", "with -serve: key (PEM)")
	bin := flag.String("bin", "", "directory holding the shardnet and idleclient binaries (and peer-nbio, for -servers nbio)")
	servers := flag.String("servers", "shardnet,nethttp", "servers to measure, comma-separated: shardnet, nethttp, nbio (peer-nbio -tls: nbio's TLS), before (-before's shardnet)")
	states := flag.String("states", "plain,handshake,request", "cells per server, comma-separated: plain (one 16 KiB request, plaintext), handshake (TLS, idle after it), request (TLS, one 16 KiB request)")
	before := flag.String("before", "", "another build's shardnet binary, measured as server \"before\" (e.g. the build an engine change starts from)")
	n := flag.Int("n", 10000, "idle connections per cell")
	rounds := flag.Int("rounds", 2, "rounds; each runs every cell once, in alternating order")
	port := flag.Int("port", 19400, "first port to listen on (each cell takes the next)")
	flag.Parse()
	if *serve != "" {
		if err := serveNetHTTP(*serve, *certFile, *keyFile); err != nil {
			fmt.Fprintln(os.Stderr, "tlsidle -serve:", err)
			os.Exit(1)
		}
		return
	}
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "tlsidle: -bin is required")
		os.Exit(2)
	}
	if err := drive(*bin, *before, strings.Split(*servers, ","), strings.Split(*states, ","), *n, *rounds, *port); err != nil {
		fmt.Fprintln(os.Stderr, "tlsidle:", err)
		os.Exit(1)
	}
}

// pki is the certificate every TLS server of the run serves, and its
// authority, which the clients verify it against.
type pki struct{ cert, key, ca string }

func makePKI(dir string) (pki, error) {
	ca, err := tlscert.NewAuthority("tlsidle")
	if err != nil {
		return pki{}, err
	}
	leaf, err := ca.Leaf("127.0.0.1")
	if err != nil {
		return pki{}, err
	}
	var p pki
	if p.cert, p.key, err = tlscert.WriteFiles(dir, "server", leaf); err != nil {
		return pki{}, err
	}
	p.ca = filepath.Join(dir, "ca.pem")
	return p, os.WriteFile(p.ca, ca.PEM(), 0o644)
}

func drive(bin, before string, servers, states []string, n, rounds, port int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tlsidle-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := makePKI(dir)
	if err != nil {
		return err
	}
	var cells []cell
	for _, s := range servers {
		switch s {
		case "shardnet", "nethttp", "nbio":
		case "before":
			if before == "" {
				return errors.New("-servers before needs -before")
			}
		default:
			return fmt.Errorf("-servers: unknown server %q", s)
		}
		for _, st := range states {
			switch st {
			case "plain":
				cells = append(cells, cell{s, false, "request"})
			case "handshake", "request":
				cells = append(cells, cell{s, true, st})
			default:
				return fmt.Errorf("-states: unknown cell %q", st)
			}
		}
	}
	perConn := map[string][]float64{}
	var raw strings.Builder
	for r := 0; r < rounds; r++ {
		order := cells
		if r%2 == 1 { // alternate, so that neither server always goes first
			order = make([]cell, len(cells))
			for i, c := range cells {
				order[len(cells)-1-i] = c
			}
		}
		for _, c := range order {
			b, line, err := measure(bin, before, self, p, c, n, port)
			port++
			fmt.Fprintf(&raw, "round %d %s: %s\n", r+1, c.name(), line)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", c.name(), err)
				continue
			}
			perConn[c.name()] = append(perConn[c.name()], b)
		}
	}
	report(os.Stdout, cells, perConn, n, rounds)
	fmt.Printf("\nRaw:\n\n```\n%s```\n", raw.String())
	return nil
}

// measure runs one cell and returns the server's RSS per idle connection,
// in bytes, and a line for the raw record.
func measure(bin, before, self string, p pki, c cell, n, port int) (float64, string, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var argv []string
	switch c.server {
	case "shardnet", "before":
		exe := filepath.Join(bin, "shardnet")
		if c.server == "before" {
			exe = before
		}
		argv = []string{exe, "http", "-addr", addr, "-shards", "1", "-idle", "0"}
		if c.tls {
			argv = append(argv, "-tls", p.cert+","+p.key)
		}
	case "nbio":
		// nbio's TLS (llib's crypto/tls copy) under the benchmark peers'
		// shared HTTP answer, which waits for a request's whole body.
		argv = []string{filepath.Join(bin, "peer-nbio"), "-mode", "http", "-addr", addr, "-loops", "1"}
		if c.tls {
			argv = append(argv, "-tls", p.cert+","+p.key)
		}
	case "nethttp":
		argv = []string{self, "-serve", addr}
		if c.tls {
			argv = append(argv, "-cert", p.cert, "-key", p.key)
		}
	}
	srv, err := procstat.Start(c.server, serverPin, argv)
	if err != nil {
		return 0, "", err
	}
	defer srv.Stop()
	if err := procstat.WaitListen(port, 10*time.Second); err != nil {
		return 0, "", fmt.Errorf("%w: %s", err, srv.Output())
	}
	time.Sleep(300 * time.Millisecond)
	base, err := procstat.RSSKiB(srv.PID())
	if err != nil {
		return 0, "", err
	}
	baseFds := procstat.FDCount(srv.PID())
	cargv := []string{filepath.Join(bin, "idleclient"), "-addr", addr, "-n", strconv.Itoa(n)}
	if c.tls {
		cargv = append(cargv, "-tls", "-tls-ca", p.ca)
	}
	if c.state == "request" {
		cargv = append(cargv, "-http", "-body", strconv.Itoa(requestBody))
	}
	cl, err := procstat.Start("idleclient", clientPin, cargv)
	if err != nil {
		return 0, "", err
	}
	defer cl.Stop()
	if _, err := cl.WaitLine("connected", 120*time.Second); err != nil {
		return 0, "", fmt.Errorf("%w; server: %s", err, srv.Output())
	}
	deadline := time.Now().Add(60 * time.Second)
	for procstat.FDCount(srv.PID()) < baseFds+n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	held := procstat.FDCount(srv.PID()) - baseFds
	time.Sleep(time.Second)
	var rss []int64
	for i := 0; i < 3; i++ {
		v, err := procstat.RSSKiB(srv.PID())
		if err != nil {
			return 0, "", err
		}
		rss = append(rss, v)
		time.Sleep(300 * time.Millisecond)
	}
	line := fmt.Sprintf("RSS before %d KiB, with %d idle connections %v KiB (three reads 0.3 s apart), server fds held %d", base, n, rss, held)
	if held < n {
		return 0, line, fmt.Errorf("the server holds %d of %d connections", held, n)
	}
	return float64(rss[len(rss)-1]-base) * 1024 / float64(n), line, nil
}

// report prints the cells' medians and the TLS ratios against net/http.
func report(w io.Writer, cells []cell, perConn map[string][]float64, n, rounds int) {
	fmt.Fprintf(w, "RSS per idle connection, %d connections, %d round(s), median (all rounds), KiB:\n\n", n, rounds)
	fmt.Fprintln(w, "| server | connection | idle after | KiB per connection | rounds |")
	fmt.Fprintln(w, "|---|---|---|---:|---|")
	med := map[string]float64{}
	for _, c := range cells {
		v := perConn[c.name()]
		if len(v) == 0 {
			fmt.Fprintf(w, "| %s | %s | %s | failed | |\n", c.server, proto(c), state(c))
			continue
		}
		med[c.name()] = median(v)
		var all []string
		for _, x := range v {
			all = append(all, fmt.Sprintf("%.1f", x/1024))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f | %s |\n", c.server, proto(c), state(c), med[c.name()]/1024, strings.Join(all, ", "))
	}
	fmt.Fprintln(w)
	for _, st := range []string{"handshake", "request"} {
		s, okS := med["shardnet/tls/"+st]
		h, okH := med["nethttp/tls/"+st]
		if !okS || !okH || h <= 0 {
			continue
		}
		verdict := "met"
		if s > h/4 {
			verdict = "missed"
		}
		fmt.Fprintf(w, "- TLS, idle after the %s: shardnet / net/http = %.2f (target ≤ 0.25: %s)%s\n", state(cell{state: st}), s/h, verdict,
			paired(perConn["shardnet/tls/"+st], perConn["nethttp/tls/"+st]))
		for _, o := range []string{"before", "nbio"} {
			if v, ok := med[o+"/tls/"+st]; ok {
				fmt.Fprintf(w, "- TLS, idle after the %s: %s / net/http = %.2f; shardnet / %s = %.2f (reported)\n", state(cell{state: st}), o, v/h, o, s/v)
			}
		}
	}
}

// paired gives the per-round ratios a/b and their median, when both
// cells have a figure in every round (rounds run every cell, so the
// i-th figures are of one round).
func paired(a, b []float64) string {
	if len(a) != len(b) || len(a) < 2 {
		return ""
	}
	var rs []float64
	var all []string
	for i := range a {
		rs = append(rs, a[i]/b[i])
		all = append(all, fmt.Sprintf("%.3f", a[i]/b[i]))
	}
	return fmt.Sprintf("; paired by round: median %.3f over %s", median(rs), strings.Join(all, ", "))
}

func proto(c cell) string {
	if c.tls {
		return "TLS 1.3"
	}
	return "plaintext"
}

func state(c cell) string {
	if c.state == "handshake" {
		return "handshake"
	}
	return "one 16 KiB request"
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// serveNetHTTP is a cell's net/http server: net/http's defaults (no
// timeouts, keep-alive), HTTP/1.1 only (the clients offer no h2), and
// for TLS crypto/tls with X25519, as every server of the comparison. It
// answers "Hello, World!" after reading and dropping the request's body,
// as shardnet http does, and stops on SIGTERM.
func serveNetHTTP(addr, certFile, keyFile string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{
			Certificates:     []tls.Certificate{cert},
			CurvePreferences: []tls.CurveID{tls.X25519},
			NextProtos:       []string{"http/1.1"},
		})
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"text/plain"}
		io.WriteString(w, "Hello, World!")
	})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

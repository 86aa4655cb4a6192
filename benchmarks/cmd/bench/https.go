package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shardnet/shardnet/internal/tlscert"
)

// The HTTPS suites (issue 16): the plaintext HTTP answer over TLS 1.3 from
// five servers, each on CPU 0 with one thread (one shard, GOMAXPROCS=1,
// one worker), its client on CPU 1:
//
//   - shardnet: `shardnet http -shards 1 -tls cert.pem,key.pem` (the CLI's
//     HTTP server on engine.ListenTLS);
//   - nethttp: cmd/peer-nethttp -tls, net/http over crypto/tls on Go's net;
//   - nbio: cmd/peer-nbio -tls, nbio's TLS (llib's copy of crypto/tls,
//     non-blocking, on the poller) under the peers' shared HTTP answer;
//   - nginx: nginx-light, one process (master_process off), `return 200`;
//   - haproxy: HAProxy, nbthread 1, `http-request return`.
//
// Every server has the same ECDSA P-256 certificate (made at run time),
// TLS 1.3 only, X25519 as the only key exchange and TLS_AES_128_GCM_SHA256
// as the record cipher: set on each server where it can be (net/http's
// and nbio's CurvePreferences, nginx's ssl_ecdh_curve and Ciphersuites, HAProxy's
// curves and ciphersuites) and on the clients (c/httpload's TLS build,
// cmd/tlsconnload); shardnet's CLI takes the standard library's defaults,
// so its curve and cipher are the clients' choice, and the check before
// every run asserts what was negotiated with every server.
//
//   - https: wrk -t1 over https://, 50 and 256 connections, plain and
//     16-deep pipelined (pipeline.lua), at saturation.
//   - https-rate: the same cells at fixed offered rates, paced by httpsload
//     (c/httpload built with OpenSSL, -tls-ca).
//   - tlsconn: new connections per second, one request each
//     (cmd/tlsconnload), full handshakes and resumed ones.

// httpsPeers are the servers of the HTTPS suites.
var httpsPeers = []string{"nethttp", "nbio", "nginx", "haproxy", "shardnet"}

// httpsSuites are the suites this file runs.
var httpsSuites = []string{"https", "https-rate", "tlsconn"}

func isHTTPSSuite(suite string) bool { return slices.Contains(httpsSuites, suite) }

// httpsBinaries are the Go commands these suites build besides the peers.
var httpsBinaries = []string{"tlsconnload"}

// httpsTools are the programs a peer needs, looked up on PATH and in the
// sbin directories (Debian puts nginx and haproxy there).
var httpsTools = map[string]string{"nginx": "nginx", "haproxy": "haproxy"}

// tlsFiles are the certificate, its key and its authority for every HTTPS
// server of a run; haproxyPEM is the chain and key in one file, as HAProxy
// takes them.
type tlsFiles struct {
	dir, ca, cert, key, haproxyPEM string
}

// httpsFiles makes the run's certificate once: an ECDSA P-256 leaf for
// localhost and 127.0.0.1, signed by a throwaway authority, under
// bin/tls.
func (d *driver) httpsFiles() (*tlsFiles, error) {
	if d.tls != nil {
		return d.tls, nil
	}
	dir := filepath.Join(d.bin, "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, err := tlscert.NewAuthority("shardnet benchmark CA")
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Leaf("localhost", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{dir: dir, ca: filepath.Join(dir, "ca.pem"), haproxyPEM: filepath.Join(dir, "haproxy.pem")}
	if f.cert, f.key, err = tlscert.WriteFiles(dir, "server", leaf); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.ca, ca.PEM(), 0o644); err != nil {
		return nil, err
	}
	chain, err1 := os.ReadFile(f.cert)
	key, err2 := os.ReadFile(f.key)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("read back the certificate: %v %v", err1, err2)
	}
	if err := os.WriteFile(f.haproxyPEM, append(chain, key...), 0o600); err != nil {
		return nil, err
	}
	d.tls = f
	return f, nil
}

// buildHTTPSLoad builds bin/httpsload: c/httpload with OpenSSL. It says
// why not when gcc or OpenSSL's headers are missing (no https-rate cells
// then).
func buildHTTPSLoad(bin string) bool {
	cmd := exec.Command("gcc", "-O2", "-Wall", "-DHTTPLOAD_TLS", "-o", filepath.Join(bin, "httpsload"), "c/httpload.c", "-lssl", "-lcrypto")
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Printf("bench: httpsload not built (gcc and libssl-dev needed; no https-rate cells): %v: %s\n", err, lastLines(string(out), 2))
		return false
	}
	return true
}

// toolPath finds a server program on PATH or in /usr/sbin or /sbin.
func toolPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s %w", name, errMissing)
}

// httpsFilter drops from ps the peers whose server program is missing,
// saying so, and every peer when the cell's client is missing.
func (d *driver) httpsFilter(c Cell, ps []string) []string {
	if c.Suite == "https-rate" && !d.haveHTTPSLoad {
		fmt.Printf("%-9s %-28s skipped: httpsload was not built (gcc and libssl-dev)\n", c.Suite, c.Name)
		return nil
	}
	return slices.DeleteFunc(ps, func(p string) bool {
		tool, ok := httpsTools[p]
		if !ok {
			return false
		}
		if _, err := toolPath(tool); err != nil {
			fmt.Printf("%-9s %-28s %s skipped: %s not installed (apt-get install %s)\n", c.Suite, c.Name, p, tool,
				map[string]string{"nginx": "nginx-light", "haproxy": "haproxy"}[p])
			return true
		}
		return false
	})
}

// httpsCells are the HTTPS suites' cells: every https cell followed by its
// fixed-rate cells, then the new-connection cells.
func (d *driver) httpsCells() []Cell {
	var cs []Cell
	for _, conns := range []int{50, 256} {
		for _, pl := range []int{1, 16} {
			name := fmt.Sprintf("c%d x%d", conns, pl)
			spec := httpSpec{conns: conns, pipeline: pl, tls: true}
			cs = append(cs, d.rateCellsOf("https", name, httpsPeers,
				func(d *driver, s Sample) Sample { return d.runHTTP(s, spec) },
				func(d *driver, s Sample) Sample { return d.runHTTPRate(s, spec) })...)
		}
	}
	for _, resume := range []bool{false, true} {
		name := "full handshake c16"
		if resume {
			name = "resumed c16"
		}
		cs = append(cs, Cell{Suite: "tlsconn", Name: name, Peers: httpsPeers,
			Run: func(d *driver, p string, r int) []Sample {
				return []Sample{d.runTLSConn(newSample("tlsconn", name, p, r), 16, resume)}
			}})
	}
	return cs
}

// startHTTPFor starts the server of an HTTP or HTTPS load and checks its
// answers: startCheckedHTTP, or over TLS startHTTPS.
func (d *driver) startHTTPFor(s *Sample, spec httpSpec) (*proc, string) {
	if spec.tls {
		return d.startHTTPS(s)
	}
	return d.startCheckedHTTP(s, spec.stack)
}

// httpMallocs says whether the server of an HTTP load prints its malloc
// count on SIGUSR1: the benchmark peers do; of the HTTPS servers only
// peer-nethttp and peer-nbio (the shardnet CLI, nginx and HAProxy have no
// such signal).
func (d *driver) httpMallocs(peer string, spec httpSpec) bool {
	if spec.tls {
		return peer == "nethttp" || peer == "nbio"
	}
	return d.mallocsOf(peer)
}

// url is the URL of the plaintext answer that wrk loads.
func (spec httpSpec) url(addr string) string {
	if spec.tls {
		return "https://" + addr + "/plaintext"
	}
	return "http://" + addr + "/plaintext"
}

// httpsLoadArgs returns the paced client of an HTTP load and its extra
// arguments: httpload, or for HTTPS its TLS build and the authority.
func (d *driver) httpsLoadArgs(spec httpSpec) (bin string, extra []string) {
	if !spec.tls {
		return filepath.Join(d.bin, "httpload"), nil
	}
	return filepath.Join(d.bin, "httpsload"), []string{"-tls-ca", d.tls.ca}
}

// startHTTPS starts one HTTPS server on CPU 0 and checks it (checkHTTPS).
// On failure it notes why in s and returns a nil server.
func (d *driver) startHTTPS(s *Sample) (*proc, string) {
	f, err := d.httpsFiles()
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return nil, ""
	}
	addr := d.nextAddr()
	srv, err := d.startHTTPSServer(s.Peer, addr, f)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return nil, ""
	}
	if err := checkHTTPS(addr, f.ca); err != nil {
		s.Errors, s.Note = 1, "HTTPS check: "+err.Error()
		d.saveRaw(s, "# HTTPS check failed: "+err.Error(), "# server", srv.output())
		srv.stop()
		return nil, ""
	}
	return srv, addr
}

// startHTTPSServer starts a peer's HTTPS server, pinned, and waits until
// it listens.
func (d *driver) startHTTPSServer(peer, addr string, f *tlsFiles) (*proc, error) {
	if peer == "nethttp" || peer == "nbio" {
		return d.startServer(filepath.Join(d.bin, "peer-"+peer), peer, "http", addr, serverPin, 1, "-tls", f.cert+","+f.key)
	}
	var argv []string
	switch peer {
	case "nginx", "haproxy":
		tool, err := toolPath(httpsTools[peer])
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "bench-"+peer+"-")
		if err != nil {
			return nil, err
		}
		// The directory is small and the server may still write to it
		// until it stops; it is left in the temporary directory.
		conf := filepath.Join(dir, peer+".conf")
		text := nginxHTTPSConfig(addr, dir, f)
		argv = []string{tool, "-c", conf}
		if peer == "haproxy" {
			text = haproxyHTTPSConfig(addr, f)
			argv = []string{tool, "-db", "-f", conf}
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
	default: // shardnet, or an extra build's CLI
		argv = []string{d.cliPath(peer), "http", "-addr", addr, "-shards", "1", "-tls", f.cert + "," + f.key}
	}
	p, err := start(peer, serverPin, argv)
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	if err := waitForListen(port, 10*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w: %s", err, lastLines(p.output(), 3))
	}
	return p, nil
}

// nginxHTTPSConfig is nginx-light as one process (no master, one worker's
// loop in it, so the process the driver samples is the server), answering
// every request with the plaintext body; keep-alive without a request
// limit (the default closes a connection after 1000 requests).
func nginxHTTPSConfig(addr, dir string, f *tlsFiles) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    server {
        listen %[1]s ssl;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        ssl_protocols TLSv1.3;
        ssl_ecdh_curve X25519;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
`, addr, dir, f.cert, f.key)
}

// haproxyHTTPSConfig is HAProxy with one thread terminating TLS and
// answering every request itself; maxconn 4096 keeps the file limit it
// asks for (about twice maxconn) under the machine's 20,000.
func haproxyHTTPSConfig(addr string, f *tlsFiles) string {
	return fmt.Sprintf(`global
    nbthread 1
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.3
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
defaults
    mode http
    timeout client 60s
    timeout connect 5s
    timeout server 60s
    timeout http-keep-alive 60s
frontend https
    bind %s ssl crt %s curves X25519 alpn http/1.1
    http-request return status 200 content-type text/plain string "Hello, World!"
`, addr, f.haproxyPEM)
}

// checkHTTPS dials addr with crypto/tls (the run's authority, X25519
// only), checks what was negotiated — TLS 1.3, X25519,
// TLS_AES_128_GCM_SHA256, the ECDSA P-256 certificate — and then the
// three pipelined answers of checkHTTP.
func checkHTTPS(addr, caFile string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{
		RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
		NextProtos:       []string{"http/1.1"},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	cs := c.ConnectionState()
	switch {
	case cs.CurveID != tls.X25519:
		return fmt.Errorf("key exchange %v, want X25519", cs.CurveID)
	case cs.CipherSuite != tls.TLS_AES_128_GCM_SHA256:
		return fmt.Errorf("cipher suite %s, want TLS_AES_128_GCM_SHA256", tls.CipherSuiteName(cs.CipherSuite))
	}
	if k, ok := cs.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return fmt.Errorf("certificate key %T, want ECDSA P-256", cs.PeerCertificates[0].PublicKey)
	}
	return checkAnswers(c)
}

// tlsConnJSON is the part of cmd/tlsconnload's report beyond benchJSON.
type tlsConnJSON struct {
	Resumed uint64 `json:"resumed"`
	Version string `json:"tls_version"`
	Cipher  string `json:"cipher_suite"`
	Curve   string `json:"curve"`
}

// runTLSConn runs cmd/tlsconnload against one peer's HTTPS server: new
// connections, one request each, as fast as workers closed loops make
// them; with resume they resume sessions from tickets.
func (d *driver) runTLSConn(s Sample, workers int, resume bool) Sample {
	srv, addr := d.startHTTPS(&s)
	if srv == nil {
		return s
	}
	defer srv.stop()
	argv := []string{filepath.Join(d.bin, "tlsconnload"), "-addr", addr, "-cert", d.tls.cert, "-c", strconv.Itoa(workers),
		"-duration", d.duration.String(), "-json"}
	if resume {
		argv = append(argv, "-resume")
	}
	cl := reportClient{name: "tlsconnload", pin: clientPin, argv: argv, mismatch: "wrong answer", tail: true,
		noMallocs: !d.httpMallocs(s.Peer, httpSpec{tls: true})}
	s = d.runReportClient(s, srv, cl, true)
	var extra tlsConnJSON
	if s.Raw != "" {
		if b, err := os.ReadFile(filepath.Join(d.out, s.Raw)); err == nil {
			json.Unmarshal([]byte(jsonPart(clientPart(string(b)))), &extra)
		}
	}
	if extra.Curve != "" && s.Errors == 0 {
		s.Note = fmt.Sprintf("%s %s %s, %d resumed", extra.Version, extra.Cipher, extra.Curve, extra.Resumed)
	}
	return s
}

// clientPart is the client's output in a raw record (before "# server").
func clientPart(raw string) string {
	if i := strings.Index(raw, "\n# server"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimPrefix(raw, "# client\n")
}

// targets16Markdown gives the HTTPS targets by paired ratios
// (shardnet ÷ net/http within each round): at the fixed rates core CPU
// per request at most 0.77× net/http's; new connections per second at
// least net/http's; the rates at saturation beside nginx and HAProxy
// reported.
func targets16Markdown(samples []Sample) string {
	by, rounds := indexRounds(samples)
	_, order := aggregate(samples)
	t := newTargetTable("| target | cell | shardnet ÷ peer, paired, median (min–max) | verdict |\n|---|---|---|---|\n")
	row := t.ratioRow
	net := pair{"shardnet", "nethttp"}
	for _, c := range order["https-rate"] {
		r := pairedRatios(by, "https-rate", c, net, mCoreCPU, rounds["https-rate"])
		row("HTTPS fixed rate: core CPU/req ≤ 0.77× net/http", c, r, verdict(median(r) <= 0.77))
		row("HTTPS fixed rate: server CPU/req (the process alone) ÷ net/http, for reference", c, pairedRatios(by, "https-rate", c, net, mCPU, rounds["https-rate"]), "–")
		row("HTTPS fixed rate: core CPU/req ÷ nbio (reported)", c, pairedRatios(by, "https-rate", c, pair{"shardnet", "nbio"}, mCoreCPU, rounds["https-rate"]), "–")
	}
	for _, c := range order["https"] {
		for _, p := range []string{"nethttp", "nbio", "nginx", "haproxy"} {
			row("HTTPS saturated: req/s ÷ "+p+" (reported)", c, pairedRatios(by, "https", c, pair{"shardnet", p}, mRate, rounds["https"]), "–")
		}
	}
	for _, c := range order["tlsconn"] {
		r := pairedRatios(by, "tlsconn", c, net, mRate, rounds["tlsconn"])
		row("new TLS connections/s ≥ net/http's", c, r, verdict(median(r) >= 1))
		row("new TLS connections: core CPU/conn ÷ net/http, for reference", c, pairedRatios(by, "tlsconn", c, net, mCoreCPU, rounds["tlsconn"]), "–")
		for _, p := range []string{"nbio", "nginx", "haproxy"} {
			row("new TLS connections/s ÷ "+p+" (reported)", c, pairedRatios(by, "tlsconn", c, pair{"shardnet", p}, mRate, rounds["tlsconn"]), "–")
		}
	}
	return t.String()
}

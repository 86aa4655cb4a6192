package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
)

// Sample is one run of one cell for one peer: what the report aggregates.
// Figures a run does not have are -1.
type Sample struct {
	Suite string `json:"suite"`
	Cell  string `json:"cell"`
	Peer  string `json:"peer"`
	Round int    `json:"round"`
	// Rate is msgs/s (echo), req/s (http), Gbit/s (proxy), ops/s (kv) or,
	// for the idle suite, bytes of RSS per idle connection.
	Rate float64 `json:"rate"`
	// Offered is the fixed rate the client was asked for (msgs/s or
	// req/s) in the fixed-rate suites; 0 at saturation.
	Offered float64 `json:"offered,omitempty"`
	// ServerCPUPerMsgNs is the server's user+system CPU time over the
	// measured window divided by the messages in it, in nanoseconds.
	ServerCPUPerMsgNs float64 `json:"server_cpu_per_msg_ns"`
	ServerCPUPct      float64 `json:"server_cpu_pct"`
	ClientCPUPct      float64 `json:"client_cpu_pct"`
	// CoreCPUPerMsgNs is the busy time of the server's pinned core (the
	// window less its idle, iowait and steal time in /proc/stat, whoever
	// ran there) divided by the messages in the window: it also counts the
	// receive processing that loopback runs in softirq, which
	// /proc/PID/stat does not charge to the server. CorePct and
	// ClientCorePct are the busy shares of the server's and the client's
	// cores.
	CoreCPUPerMsgNs float64 `json:"core_cpu_per_msg_ns"`
	// IRQCPUPerMsgNs is the core's irq+softirq time per message. Added to
	// the process's own time it gives a figure that other processes' work
	// on the core does not inflate (their softirq aside), for a shared
	// machine; but the kernel samples it at the tick, so it undercounts at
	// moderate rates (see procstat.CoreIdle).
	IRQCPUPerMsgNs float64 `json:"irq_cpu_per_msg_ns"`
	CorePct        float64 `json:"core_pct"`
	ClientCorePct  float64 `json:"client_core_pct"`
	P50us          float64 `json:"p50_us"`
	P99us          float64 `json:"p99_us"`
	AllocsPerMsg   float64 `json:"allocs_per_msg"`
	Errors         int     `json:"errors"`
	Note           string  `json:"note,omitempty"`
	Raw            string  `json:"raw"`
}

func newSample(suite, cell, peer string, round int) Sample {
	return Sample{Suite: suite, Cell: cell, Peer: peer, Round: round,
		ServerCPUPerMsgNs: -1, ServerCPUPct: -1, ClientCPUPct: -1, CoreCPUPerMsgNs: -1, IRQCPUPerMsgNs: -1, CorePct: -1, ClientCorePct: -1,
		P50us: -1, P99us: -1, AllocsPerMsg: -1}
}

// fill sets the CPU and allocation figures from a window and a rate; the
// core figures only when the server and the client were pinned.
func (s *Sample) fill(w window, rate float64, pinned bool) {
	if w.seconds <= 0 {
		return
	}
	s.ServerCPUPct = 100 * w.serverCPU / w.seconds
	s.ClientCPUPct = 100 * w.clientCPU / w.seconds
	srvCore, cliCore := w.core(serverPin.cpu), w.core(clientPin.cpu)
	if pinned && srvCore >= 0 && cliCore >= 0 {
		s.CorePct = 100 * srvCore / w.seconds
		s.ClientCorePct = 100 * cliCore / w.seconds
	}
	if rate > 0 {
		s.ServerCPUPerMsgNs = 1e9 * (w.serverCPU / w.seconds) / rate
		if s.CorePct >= 0 {
			s.CoreCPUPerMsgNs = 1e9 * (srvCore / w.seconds) / rate
			s.IRQCPUPerMsgNs = 1e9 * (w.irq(serverPin.cpu) / w.seconds) / rate
		}
		if w.mallocs >= 0 {
			s.AllocsPerMsg = float64(w.mallocs) / (rate * w.seconds)
		}
	}
}

// Cell is one configuration of a suite, run once per peer per round.
type Cell struct {
	Suite string
	Name  string
	Peers []string
	Run   func(d *driver, peer string, round int) []Sample
}

// driver holds the run's settings, the servers and the samples so far.
type driver struct {
	bin       string // directory of the built binaries
	out       string // results directory
	rawDir    string
	duration  time.Duration
	port      int
	quick     bool
	idleN     int
	idlePairs int // -idle-pairs: the proxy-idle suite's pairs
	luaPath   string
	fractions []float64 // -rate-fractions
	haveC     bool      // gcc built peer-c and httpload
	// tls is the HTTPS suites' certificate (https.go), made on first use;
	// haveHTTPSLoad says gcc built httpsload.
	tls           *tlsFiles
	haveHTTPSLoad bool

	// peerBin and cliBin are the binaries of the extra shardnet builds:
	// peer name -> peer-shardnet, and -> shardnet CLI. The built peers
	// are bin/peer-NAME and bin/shardnet.
	peerBin, cliBin map[string]string
	// stdBin is an extra build's standard-stack servers: peer name ->
	// stack -> its peer-STACK (run with -over shardnet).
	stdBin map[string]map[string]string

	samples []Sample           // every sample so far, merged ones included
	running []string           // the peers of the cell that runs now
	slowest map[string]float64 // saturated suite/cell -> slowest peer's median rate
}

// peerPath returns the server binary of a peer.
func (d *driver) peerPath(peer string) string {
	if p, ok := d.peerBin[peer]; ok {
		return p
	}
	return filepath.Join(d.bin, "peer-"+peer)
}

// cliPath returns the shardnet CLI of a peer of the proxy and kv suites:
// "shardnet" (and "shardnet-splice", "shardnet-rt") is this tree's, an
// extra build's name (and NAME-splice, NAME-rt) its own.
func (d *driver) cliPath(peer string) string {
	name := strings.TrimSuffix(strings.TrimSuffix(peer, "-splice"), runtimeWaitSuffix)
	if p, ok := d.cliBin[name]; ok {
		return p
	}
	return filepath.Join(d.bin, "shardnet")
}

// mallocsOf says whether a peer prints its malloc count on SIGUSR1 (the Go
// peers do; the C server has none to print).
func (d *driver) mallocsOf(peer string) bool { return peer != cPeer }

// nextAddr returns a fresh loopback port for each server, so no run meets
// the previous one's TIME_WAIT sockets or a server still closing.
func (d *driver) nextAddr() string {
	d.port++
	if d.port > 29000 {
		d.port = 21000
	}
	return "127.0.0.1:" + strconv.Itoa(d.port)
}

// saveRaw writes one run's raw record and returns its path relative to
// the results directory.
func (d *driver) saveRaw(s *Sample, parts ...string) {
	name := fmt.Sprintf("%s/%s/%s-r%d.txt", s.Suite, sanitize(s.Cell), s.Peer, s.Round)
	path := filepath.Join(d.rawDir, name)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(strings.Join(parts, "\n")), 0o644)
	rel, _ := filepath.Rel(d.out, path)
	s.Raw = rel
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// serverPin and clientPin are the fair per-core placement; the unpinned
// suite passes free placement instead.
var (
	serverPin = pinning{cpu: 0, gomaxprocs: 1}
	clientPin = pinning{cpu: 1, gomaxprocs: 1}
	freePin   = pinning{cpu: -1}
)

// startPeer starts bin/peer-PEER and waits until it accepts.
func (d *driver) startPeer(peer, mode, addr string, pin pinning, loops int, extra ...string) (*proc, error) {
	return d.startServer(d.peerPath(peer), peer, mode, addr, pin, loops, extra...)
}

// startServer starts the server binary bin (a peer's, or a standard
// stack's with its -over) as the process name and waits until it accepts.
func (d *driver) startServer(bin, name, mode, addr string, pin pinning, loops int, extra ...string) (*proc, error) {
	argv := append([]string{bin, "-mode", mode, "-addr", addr, "-loops", strconv.Itoa(loops)}, extra...)
	p, err := start(name, pin, argv)
	if err != nil {
		return nil, err
	}
	if _, err := p.waitLine("ready", 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	if err := waitPort(addr, 5*time.Second, p); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startPinned starts the peer's own server (stack "") or the standard
// stack's over the peer's transport, pinned to the server's core.
func (d *driver) startPinned(peer, stack, mode, addr string) (*proc, error) {
	if stack == "" {
		return d.startPeer(peer, mode, addr, serverPin, 1)
	}
	bin, extra := d.stdServer(stack, peer)
	return d.startServer(bin, peer, mode, addr, serverPin, 1, extra...)
}

// benchJSON is the part of `shardnet bench -json` the driver reads.
type benchJSON struct {
	Messages   uint64  `json:"messages"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	Seconds    float64 `json:"seconds"`
	LatencyUs  *struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_us"`
	Errors        int      `json:"errors"`
	Mismatch      bool     `json:"mismatch"`
	ErrorMessages []string `json:"error_messages"`
}

// echoSpec is one load of `shardnet bench`.
type echoSpec struct {
	conns, size, pipeline, rate int
	loops                       int // server loops
	clientShards                int
	server, client              pinning
}

// runEcho runs one echo cell for one peer: the server, then bench against
// it; the window is sampled from 0.2 s after bench starts counting until
// 0.1 s before it stops.
func (d *driver) runEcho(s Sample, spec echoSpec) Sample {
	addr := d.nextAddr()
	srv, err := d.startPeer(s.Peer, "echo", addr, spec.server, spec.loops)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer srv.stop()
	argv := []string{filepath.Join(d.bin, "shardnet"), "bench", "-addr", addr,
		"-c", strconv.Itoa(spec.conns), "-size", strconv.Itoa(spec.size), "-pipeline", strconv.Itoa(spec.pipeline),
		"-duration", d.duration.String(), "-shards", strconv.Itoa(spec.clientShards), "-json"}
	if spec.rate > 0 {
		argv = append(argv, "-rate", strconv.Itoa(spec.rate))
	}
	cl := reportClient{name: "bench", pin: spec.client, argv: argv, mismatch: "echo mismatch"}
	return d.runReportClient(s, srv, cl, spec.server.cpu >= 0)
}

// reportClient is a load client whose stdout ends with the JSON report of
// `shardnet bench -json` (benchJSON): shardnet bench, or c/httpload.
type reportClient struct {
	name string // the process's name; a report that does not parse is noted as "NAME output: …"
	pin  pinning
	argv []string
	// mismatch is the note for answers that did not match when the report
	// gives no message (empty: no note).
	mismatch string
	// tail adds the client's last lines to the note on a report that does
	// not parse.
	tail bool
	// noMallocs says the server prints no malloc count on SIGUSR1 (it is
	// not one of the benchmark's Go peers), so none is asked for.
	noMallocs bool
}

// runReportClient runs c against srv and fills s from its report: it
// samples the window from c's "bench:" line (sampleWindow), waits for c,
// stops srv and saves both outputs. pinned says whether srv has a core of
// its own.
func (d *driver) runReportClient(s Sample, srv *proc, c reportClient, pinned bool) Sample {
	cl, err := start(c.name, c.pin, c.argv)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	w, werr := d.sampleWindow(srv, cl, "bench:", 20*time.Second, d.mallocsOf(s.Peer) && !c.noMallocs)
	cl.wait(d.duration + 30*time.Second)
	srv.stop()
	raw := cl.output()
	d.saveRaw(&s, "# client", raw, "# server", srv.output(), w.describe())
	if werr != nil {
		s.Errors, s.Note = 1, werr.Error()
		return s
	}
	var res benchJSON
	if err := json.Unmarshal([]byte(jsonPart(cl.stdoutText())), &res); err != nil {
		s.Errors, s.Note = 1, c.name+" output: "+err.Error()
		if c.tail {
			s.Note += ": " + lastLines(raw, 3)
		}
		return s
	}
	s.Rate, s.Errors = res.MsgsPerSec, res.Errors
	if res.Mismatch {
		s.Errors++
		if c.mismatch != "" {
			s.Note = c.mismatch
		}
	}
	if len(res.ErrorMessages) > 0 {
		s.Note = strings.Join(res.ErrorMessages, "; ")
	}
	if res.LatencyUs != nil {
		s.P50us, s.P99us = res.LatencyUs.P50, res.LatencyUs.P99
	}
	s.fill(w, s.Rate, pinned)
	noteDelivery(&s)
	return s
}

// jsonPart returns the JSON object in the client's stdout (the progress
// lines are around it).
func jsonPart(out string) string {
	out = "\n" + out // the object may open the output
	i := strings.Index(out, "\n{")
	j := strings.LastIndex(out, "\n}")
	if i < 0 || j < i {
		return ""
	}
	return out[i+1 : j+2]
}

// sampleWindow waits for the client's start marker (or, with an empty
// marker, takes the start as the moment of the call), then samples the
// counters 0.2 s later and 0.1 s before the duration ends.
func (d *driver) sampleWindow(srv, cl *proc, marker string, markerWait time.Duration, peer bool) (window, error) {
	t0 := time.Now()
	if marker != "" {
		if _, err := cl.waitLine(marker, markerWait); err != nil {
			return window{}, err
		}
		t0 = time.Now()
	}
	lead, tail := 200*time.Millisecond, 100*time.Millisecond
	if d.duration < time.Second {
		lead, tail = 50*time.Millisecond, 50*time.Millisecond
	}
	time.Sleep(time.Until(t0.Add(lead)))
	a := takeSnapshot(srv, cl, peer)
	time.Sleep(time.Until(t0.Add(d.duration - tail)))
	b := takeSnapshot(srv, cl, peer)
	return between(a, b), nil
}

// httpSpec is one wrk or httpload load; stack names the standard stack
// that serves it ("nethttp": cmd/peer-nethttp over the peer's transport),
// or is empty for the peer's own server.
type httpSpec struct {
	conns, pipeline int
	stack           string
	tls             bool // HTTPS: the https suites' servers (https.go)
}

var (
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// runHTTP runs wrk against one peer's HTTP server, after checking the
// server's answers byte for byte.
func (d *driver) runHTTP(s Sample, spec httpSpec) Sample {
	srv, addr := d.startHTTPFor(&s, spec)
	if srv == nil {
		return s
	}
	defer srv.stop()
	secs := max(1, int(d.duration.Round(time.Second)/time.Second))
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(spec.conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
	if spec.pipeline > 1 {
		argv = append(argv, "-s", d.luaPath)
	}
	argv = append(argv, spec.url(addr))
	if spec.pipeline > 1 {
		argv = append(argv, "--", strconv.Itoa(spec.pipeline))
	}
	cl, err := start("wrk", clientPin, argv)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	saved := d.duration
	d.duration = time.Duration(secs) * time.Second
	w, _ := d.sampleWindow(srv, cl, "", 0, d.httpMallocs(s.Peer, spec))
	d.duration = saved
	cl.wait(time.Duration(secs)*time.Second + 30*time.Second)
	srv.stop()
	raw := cl.output()
	d.saveRaw(&s, "# client", raw, "# server", srv.output(), w.describe())
	if !d.parseWrk(&s, raw) {
		return s
	}
	s.fill(w, s.Rate, true)
	return s
}

// parseWrk reads wrk's report into s: the rate, non-2xx answers and socket
// errors as errors, and p50/p99 in µs. It returns false, with the reason
// noted in s, when wrk printed no rate.
func (d *driver) parseWrk(s *Sample, raw string) bool {
	m := wrkRate.FindStringSubmatch(raw)
	if m == nil {
		s.Errors, s.Note = 1, "wrk printed no Requests/sec: "+lastLines(raw, 3)
		return false
	}
	s.Rate, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkNon2xx.FindStringSubmatch(raw); m != nil {
		n, _ := strconv.Atoi(m[1])
		s.Errors += n
		s.Note = "non-2xx responses"
	}
	if m := wrkSockErr.FindStringSubmatch(raw); m != nil {
		for i, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			// A quick run checks answers, not speed: a request wrk gave up
			// on after 2 s on a loaded machine is noted, not a failure.
			if i == 3 && d.quick {
				continue
			}
			s.Errors += n
		}
		s.Note = strings.TrimSpace(m[0])
	}
	for _, m := range wrkPct.FindAllStringSubmatch(raw, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "ms":
			v *= 1e3
		case "s":
			v *= 1e6
		}
		if v == 0 {
			continue // wrk prints 0.00us when its histogram overflows (seen with pipelining): unknown
		}
		if m[1] == "50" {
			s.P50us = v
		} else {
			s.P99us = v
		}
	}
	return true
}

// startCheckedHTTP starts the peer's HTTP server (or the standard stack's
// over the peer's transport) and checks its answers (checkHTTP). On
// failure it notes why in s and returns a nil server.
func (d *driver) startCheckedHTTP(s *Sample, stack string) (*proc, string) {
	addr := d.nextAddr()
	srv, err := d.startPinned(s.Peer, stack, "http", addr)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return nil, ""
	}
	if err := checkHTTP(addr); err != nil {
		s.Errors, s.Note = 1, "HTTP check: "+err.Error()
		d.saveRaw(s, "# HTTP check failed: "+err.Error(), "# server", srv.output())
		srv.stop()
		return nil, ""
	}
	return srv, addr
}

// checkHTTP sends three pipelined requests in one write, the last asking
// to close, and expects exactly three identical 200 responses with the
// plaintext body, then EOF.
func checkHTTP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return checkAnswers(c)
}

// checkAnswers is checkHTTP on a connection made (plain or TLS).
func checkAnswers(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(c, req+req+"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	all, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("reading: %v (got %q)", err, all)
	}
	r := bufio.NewReader(strings.NewReader(string(all)))
	for i := 0; i < 3; i++ {
		status, err := r.ReadString('\n')
		if err != nil || status != "HTTP/1.1 200 OK\r\n" {
			return fmt.Errorf("response %d: status line %q", i+1, status)
		}
		length := -1
		for {
			h, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("response %d: head cut short", i+1)
			}
			if h == "\r\n" {
				break
			}
			if v, ok := strings.CutPrefix(strings.ToLower(h), "content-length:"); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if length != len("Hello, World!") {
			return fmt.Errorf("response %d: Content-Length %d", i+1, length)
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil || string(body) != "Hello, World!" {
			return fmt.Errorf("response %d: body %q", i+1, body)
		}
	}
	if rest, _ := io.ReadAll(r); len(rest) > 0 {
		return fmt.Errorf("%d bytes after the third response", len(rest))
	}
	return nil
}

// idleSpec is what the idle connections meet: the peer's own server in
// mode (stack ""), or a standard stack's; with http each connection
// first makes one request and reads its answer, so that it idles as a
// keep-alive connection and not as one that has never spoken.
type idleSpec struct {
	stack, mode string
	http        bool
}

// runIdle measures a peer's RSS per idle connection: RSS after the
// connections settle minus RSS before any, divided by their number.
func (d *driver) runIdle(s Sample, spec idleSpec) Sample {
	addr := d.nextAddr()
	srv, err := d.startPinned(s.Peer, spec.stack, spec.mode, addr)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer srv.stop()
	time.Sleep(300 * time.Millisecond)
	base, _ := procstat.RSSKiB(srv.pid())
	baseFds := procstat.FDCount(srv.pid())
	argv := []string{filepath.Join(d.bin, "idleclient"), "-addr", addr, "-n", strconv.Itoa(d.idleN)}
	if spec.http {
		argv = append(argv, "-http")
	}
	cl, err := start("idleclient", clientPin, argv)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer cl.stop()
	if _, err := cl.waitLine("connected", 60*time.Second); err != nil {
		s.Errors, s.Note = 1, err.Error()
		d.saveRaw(&s, "# client", cl.output(), "# server", srv.output())
		return s
	}
	// Wait until the server holds every connection, then let it settle.
	deadline := time.Now().Add(60 * time.Second)
	for procstat.FDCount(srv.pid()) < baseFds+d.idleN && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	held := procstat.FDCount(srv.pid()) - baseFds
	time.Sleep(time.Second)
	var rss []int64
	for i := 0; i < 3; i++ {
		r, _ := procstat.RSSKiB(srv.pid())
		rss = append(rss, r)
		time.Sleep(300 * time.Millisecond)
	}
	after := rss[len(rss)-1]
	s.Rate = float64(after-base) * 1024 / float64(d.idleN)
	if held < d.idleN {
		s.Errors = d.idleN - held
		s.Note = fmt.Sprintf("server holds %d of %d connections", held, d.idleN)
	}
	cl.stop()
	srv.stop()
	d.saveRaw(&s, fmt.Sprintf("# RSS before %d KiB, with %d idle connections %v KiB (three reads 0.3 s apart), server fds held %d", base, d.idleN, rss, held),
		"# client", cl.output(), "# server", srv.output())
	return s
}

// errMissing marks a cell skipped because a tool is not installed.
var errMissing = errors.New("not installed")

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shardnet/shardnet/benchmarks/internal/procstat"
)

// The proxy's connection suites (issue 17), beside the iperf3 one: what a
// relayed connection costs the proxy when connections are short, and what
// an idle one holds. The proxy (shardnet proxy -shards 1, or HAProxy with
// nbthread 1) is pinned to CPU 0; the clients and the backend share CPU 1.
//
//   - proxy-close: wrk -H 'Connection: close' through the proxy to
//     `shardnet http -shards 1`: every request is a new client connection
//     and a new backend connection, so the proxy's CPU per request is its
//     CPU per relayed connection (accept, connect, one request and one
//     answer, two closes).
//   - proxy-idle: idlePairs clients (cmd/idleclient -echo, another process)
//     through the proxy to `shardnet echo -shards 1` (a third process):
//     each sends one byte and reads it back, so every pair is relayed both
//     ways, then all idle; the proxy's RSS after, less before, per pair.

// proxyClosePeers and proxyIdlePeers are the servers of the two suites:
// shardnet's proxy, HAProxy, and (main adds them) extra builds' proxies.
// "direct" in proxy-close is wrk straight to the backend, for scale.
// NAME-rt (runtimeWaitSuffix) is NAME's proxy with the runtime wait.
var (
	proxyClosePeers = []string{"direct", "shardnet", "shardnet" + runtimeWaitSuffix, "haproxy"}
	proxyIdlePeers  = []string{"shardnet", "haproxy"}
)

// runtimeWaitSuffix names a shardnet proxy peer run with
// SHARDNET_WAIT=runtime (an idle shard parks in the Go runtime's netpoller,
// engine.WithRuntimeWait); the peer without it runs with the driver's
// environment, the engine's default blocking epoll_wait unless
// SHARDNET_WAIT is set there.
const runtimeWaitSuffix = "-rt"

// proxyPeerEnv returns the environment a shardnet proxy peer adds to the
// driver's: its wait.
func proxyPeerEnv(peer string) []string {
	if strings.HasSuffix(peer, runtimeWaitSuffix) {
		return []string{"SHARDNET_WAIT=runtime"}
	}
	return nil
}

// isProxySuite says whether a suite's peers are proxies (proxyVariants
// and the two above).
func isProxySuite(suite string) bool {
	return suite == "proxy" || suite == "proxy-close" || suite == "proxy-idle"
}

// haproxyOpts vary HAProxy's configuration between the proxy cells.
type haproxyOpts struct {
	splice  bool // option splice-auto; otherwise nosplice
	maxconn int  // global and listener maxconn
}

// haproxyConfigWith is HAProxy in TCP mode with one thread, relaying
// front to back. Its frontend's maxconn is set with the global one: the
// default per-listener cap would refuse the idle pairs.
func haproxyConfigWith(front, back string, o haproxyOpts) string {
	splice := "    nosplice\n"
	opt := ""
	if o.splice {
		splice, opt = "", "    option splice-auto\n"
	}
	return fmt.Sprintf(`global
    nbthread 1
    maxconn %d
%sdefaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
%slisten relay
    bind %s
    maxconn %d
    server backend %s
`, o.maxconn, splice, opt, front, o.maxconn, back)
}

// startRelay starts the proxy peer (shardnet's or an extra build's CLI,
// or HAProxy) on the server's core, relaying front to back, and waits
// until it listens. A nil proc with a nil error is the "direct" peer.
func (d *driver) startRelay(peer, front, back string, o haproxyOpts) (*proc, error) {
	var px *proc
	var err error
	switch peer {
	case "direct":
		return nil, nil
	case "haproxy", "haproxy-splice":
		if _, lerr := exec.LookPath("haproxy"); lerr != nil {
			return nil, fmt.Errorf("haproxy %w", errMissing)
		}
		o.splice = peer == "haproxy-splice"
		cfg := filepath.Join(d.bin, "haproxy-"+sanitize(front)+".cfg")
		if err := os.WriteFile(cfg, []byte(haproxyConfigWith(front, back, o)), 0o644); err != nil {
			return nil, err
		}
		px, err = start(peer, serverPin, []string{"haproxy", "-db", "-f", cfg})
	default: // shardnet or an extra build, NAME-splice with -splice, NAME-rt with the runtime wait
		argv := []string{d.cliPath(peer), "proxy", "-addr", front, "-backend", back, "-shards", "1"}
		if strings.HasSuffix(peer, "-splice") {
			argv = append(argv, "-splice")
		}
		px, err = start(peer, serverPin, argv, proxyPeerEnv(peer)...)
	}
	if err != nil {
		return nil, err
	}
	if err := waitForListen(strings.Split(front, ":")[1], 5*time.Second); err != nil {
		px.stop()
		return nil, fmt.Errorf("%w: %s", err, lastLines(px.output(), 3))
	}
	return px, nil
}

// startBackend starts `shardnet MODE -shards 1` on the clients' core and
// waits until it accepts.
func (d *driver) startBackend(mode, addr string) (*proc, error) {
	p, err := start("backend-"+mode, clientPin, []string{filepath.Join(d.bin, "shardnet"), mode, "-addr", addr, "-shards", "1"})
	if err != nil {
		return nil, err
	}
	if err := waitForListen(strings.Split(addr, ":")[1], 5*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("backend %s: %w", mode, err)
	}
	return p, nil
}

// closeConns is wrk's connection count in proxy-close.
const closeConns = 50

// runProxyClose runs one proxy-close sample: wrk with one request per
// connection through the proxy; the sample's "messages" are requests, so
// its CPU per message is the proxy's CPU per relayed connection.
func (d *driver) runProxyClose(s Sample) Sample {
	back := d.nextAddr()
	be, err := d.startBackend("http", back)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer be.stop()
	front, relayAddr := back, d.nextAddr()
	px, err := d.startRelay(s.Peer, relayAddr, back, haproxyOpts{maxconn: 4096})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	measured := be // direct: the figures are the backend's
	if px != nil {
		defer px.stop()
		measured, front = px, relayAddr
	}
	if err := checkHTTP(front); err != nil {
		s.Errors, s.Note = 1, "HTTP check: "+err.Error()
		d.saveRaw(&s, "# HTTP check failed: "+err.Error(), "# backend", be.output())
		return s
	}
	secs := max(1, int(d.duration.Round(time.Second)/time.Second))
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(closeConns), "-d" + strconv.Itoa(secs) + "s", "--latency",
		"-H", "Connection: close", "http://" + front + "/plaintext"}
	cl, err := start("wrk", clientPin, argv)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	saved := d.duration
	d.duration = time.Duration(secs) * time.Second
	w, _ := d.sampleWindow(measured, cl, "", 0, false)
	d.duration = saved
	cl.wait(time.Duration(secs)*time.Second + 30*time.Second)
	parts := []string{"# client", cl.output(), "# backend", be.output()}
	if px != nil {
		px.stop()
		parts = append(parts, "# proxy", px.output())
	}
	be.stop()
	raw := cl.output()
	d.saveRaw(&s, append(parts, w.describe())...)
	if !d.parseWrk(&s, raw) {
		return s
	}
	s.fill(w, s.Rate, true)
	return s
}

// runProxyIdle runs one proxy-idle sample: RSS per idle relayed pair.
func (d *driver) runProxyIdle(s Sample) Sample {
	n := d.idlePairs
	back := d.nextAddr()
	be, err := d.startBackend("echo", back)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer be.stop()
	front := d.nextAddr()
	px, err := d.startRelay(s.Peer, front, back, haproxyOpts{maxconn: n + 100})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	if px == nil {
		s.Errors, s.Note = 1, "proxy-idle has no direct peer"
		return s
	}
	defer px.stop()
	time.Sleep(300 * time.Millisecond)
	base, _ := procstat.RSSKiB(px.pid())
	baseFds := procstat.FDCount(px.pid())
	cl, err := start("idleclient", clientPin, []string{filepath.Join(d.bin, "idleclient"), "-addr", front, "-n", strconv.Itoa(n), "-echo"})
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer cl.stop()
	if _, err := cl.waitLine("connected", 90*time.Second); err != nil {
		s.Errors, s.Note = 1, err.Error()
		d.saveRaw(&s, "# client", cl.output(), "# proxy", px.output(), "# backend", be.output())
		return s
	}
	// Every pair is two of the proxy's fds: wait for them all, then let
	// the proxy settle.
	deadline := time.Now().Add(30 * time.Second)
	for procstat.FDCount(px.pid()) < baseFds+2*n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	held := procstat.FDCount(px.pid()) - baseFds
	time.Sleep(time.Second)
	var rss []int64
	for i := 0; i < 3; i++ {
		r, _ := procstat.RSSKiB(px.pid())
		rss = append(rss, r)
		time.Sleep(300 * time.Millisecond)
	}
	after := rss[len(rss)-1]
	s.Rate = float64(after-base) * 1024 / float64(n)
	if held < 2*n {
		s.Errors = 2*n - held
		s.Note = fmt.Sprintf("proxy holds %d of %d fds", held, 2*n)
	}
	cl.stop()
	px.stop()
	be.stop()
	d.saveRaw(&s, fmt.Sprintf("# proxy RSS before %d KiB, with %d idle pairs %v KiB (three reads 0.3 s apart), proxy fds held %d", base, n, rss, held),
		"# client", cl.output(), "# proxy", px.output(), "# backend", be.output())
	return s
}

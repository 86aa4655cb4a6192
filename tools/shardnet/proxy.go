//go:build linux

package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/relay"
	"github.com/shardnet/shardnet/tools/metrics"
)

// runProxy is the proxy command: flags in, engine/relay does the rest.
func runProxy(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	var backends addrList
	var pf proxyFlags
	fs := newFlagSet("proxy", "TCP (layer 4) proxy: each client is relayed to a backend chosen by -policy, with\nback-pressure and half-close passed on both ways. A backend that refuses or\ntimes out is skipped for -down-for and the next one is tried before the client\nsees anything; with -check-interval, health checks take backends out of the\nrotation and back. SIGTERM drains (stops accepting, lets relayed connections\nfinish for up to -drain-timeout); SIGINT stops at once.\n\nAn idle shard's wait follows -wait auto by default: a proxy that terminates\nTLS (-tls, -tls-self-signed) parks idle shards in the Go runtime's netpoller\n(-wait runtime, engine.WithRuntimeWait), any other blocks in epoll_wait (-wait\nsyscall, the engine's default). Terminating TLS for one stream at 150 MiB/s on\none thread the runtime wait cost 0.73-0.79x the proxy CPU per KiB of the\nblocking wait, 0.97x with a busy loop on the proxy's core (tls-16n,\nsession12), and 0.72-0.83x HAProxy's, where the blocking wait cost\n0.91-1.03x; saturated 0.93-0.97x. Relaying plaintext connections\n(proxy-close, sysmon-wait-2) the two cost the same, and RPC calls on a core\nshared with busy processes cost more under the runtime wait (sysmon-wait-2).\nWithout -wait, SHARDNET_WAIT decides when set, as for the other server\ncommands.", `  shardnet proxy -listen 127.0.0.1:8000 -backend 127.0.0.1:7000
  shardnet proxy -listen :8000 -backend 10.0.0.1:80,10.0.0.2:80 -policy lc -connect-timeout 1s
  shardnet proxy -listen :8000 -backend 10.0.0.1:80,10.0.0.2:80 -check-interval 2s \
      -check-send 'GET /health HTTP/1.0\r\n\r\n' -check-expect '200 OK'   # L7 health check
  shardnet proxy -listen 127.0.0.1:5201 -backend 127.0.0.1:5202 -splice   # zero-copy relay
  iperf3 -c 127.0.0.1 -p 5201                                              # measure it
  shardnet proxy -listen :8000 -backend 10.0.0.1:80 -send-proxy v2         # backend sees the client's address
  shardnet proxy -listen :8000 -backend 10.0.0.1:80 -rate-conn 10MB -rate-total 100MB   # 10 MB/s per client, 100 MB/s in all
  shardnet proxy -listen 127.0.0.1:8443 -tls cert.pem,key.pem -backend 127.0.0.1:8080   # terminate TLS
  shardnet proxy -listen 127.0.0.1:8443 -tls cert.pem,key.pem -backend 127.0.0.1:8080 -wait syscall   # idle shards block in epoll_wait
  shardnet proxy -listen 127.0.0.1:8000 -backend localhost:8443 -backend-tls -backend-ca ca.pem  # originate TLS
`, stderr)
	sf.register(fs, defaultAddr)
	sf.tls.register(fs)
	fs.Var(&sf.addrs, "listen", "alias of -addr: the address clients connect to")
	fs.Var(&backends, "backend", "backend address(es), repeatable or comma-separated (required)")
	pf.register(fs)
	var wait string
	fs.StringVar(&wait, "wait", "auto", "how an idle shard waits: syscall (blocks in epoll_wait, the engine's default), runtime (parks in the Go runtime's netpoller), runtime-pinned (runtime, thread pinned) or auto (runtime when the listener terminates TLS, else syscall); without it SHARDNET_WAIT decides when set")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "wait" })
	switch wait {
	case "auto":
		wait = proxyAutoWait(sf.tls.files != "" || sf.tls.selfSigned)
	case "syscall", "runtime", "runtime-pinned":
	default:
		fmt.Fprintf(stderr, "shardnet proxy: -wait %q: want auto, syscall, runtime or runtime-pinned\n", wait)
		return 2
	}
	waitOpts, waitMode, err := rpcWaitOptions(wait, explicit, os.Getenv, sf.pin)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet proxy: %v\n", err)
		return 2
	}
	sf.waitMode = waitMode
	// The relay applies the rate limits itself: it must know them to
	// relay limited pairs by copy.
	pf.rateConn, pf.rateTotal, sf.rateInHandler = sf.rateConn, sf.rateTotal, true
	if len(backends) == 0 {
		fmt.Fprintln(stderr, "shardnet proxy: -backend is required")
		fs.Usage()
		return 2
	}
	for _, b := range backends {
		if !relay.ValidAddr(b) {
			fmt.Fprintf(stderr, "shardnet proxy: -backend %q: want host:port, tcp[46]://host:port or unix:///path\n", b)
			return 2
		}
	}
	if pf.splice && (pf.backendTLS || sf.tls.files != "" || sf.tls.selfSigned) {
		// splice moves bytes between the sockets without reading them:
		// records have to be decrypted and sealed on the way.
		fmt.Fprintln(stderr, "shardnet proxy: -splice cannot carry TLS (-tls, -tls-self-signed, -backend-tls)")
		return 2
	}
	// The handler serializes the lines the shards log.
	log := slog.New(slog.NewTextHandler(stderr, nil))
	px, pool, err := pf.proxy(backends, log)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet proxy: %v\n", err)
		return 2
	}
	sf.metricsOpts = append(sf.metricsOpts, metrics.WithProxy(px), metrics.WithPool("default", pool))
	sf.drain = px.Drain // -drain-timeout is a server flag (server.go)
	code := serve("proxy", &sf, px, append(px.EngineOptions(), waitOpts...), stdout, stderr)
	st := px.Stats()
	fmt.Fprintf(stdout, "proxy: clients=%d relayed=%d no-backend=%d retries=%d up=%d down=%d spliced=%d\n",
		st.Clients, st.Relayed, st.NoBackend, st.Retries, st.BytesUp, st.BytesDown, st.Spliced)
	return code
}

// proxyAutoWait is the proxy's idle wait under -wait auto, its default,
// when SHARDNET_WAIT does not name one. A proxy that terminates TLS parks
// idle shards in the runtime's netpoller: streaming one connection at 150
// MiB/s that cost 0.73-0.79x the blocking wait's proxy CPU per KiB (the
// blocking wait pays sysmon's retake of the shard's P per sleep), 0.97x
// with a steady busy loop on the proxy's core, 0.93-0.97x saturated
// (benchmarks/results/tls-16n, session12). Relaying plaintext the two cost
// the same (proxy-close, sysmon-wait-2), and the blocking wait is the
// engine's default and the more tested one, so plaintext proxies keep it.
func proxyAutoWait(terminatesTLS bool) string {
	if terminatesTLS {
		return "runtime"
	}
	return "syscall"
}

// proxyFlags are the proxy's own flags.
type proxyFlags struct {
	policy          string
	connectTimeout  time.Duration
	downFor         time.Duration
	retries         int
	splice          bool
	checkInterval   time.Duration
	checkTimeout    time.Duration
	checkFall       int
	checkRise       int
	checkSend       string
	checkExpect     string
	sendProxy       string
	backendTLS      bool     // -backend-tls: dial the backends with TLS
	backendCA       string   // -backend-ca
	backendInsecure bool     // -backend-insecure-skip-verify
	rateConn        rateFlag // serverFlags' -rate-conn: each client's limit, bytes/s each way
	rateTotal       rateFlag // serverFlags' -rate-total: all clients together, bytes/s each way
}

func (pf *proxyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&pf.policy, "policy", "rr", "how a client's backend is chosen: rr|lc|p2c|hash (round-robin, least connections, power of two choices, client address)")
	fs.DurationVar(&pf.connectTimeout, "connect-timeout", 3*time.Second, "give up connecting to a backend after this long, and try the next")
	fs.DurationVar(&pf.downFor, "down-for", 5*time.Second, "skip a backend this long after it refused or timed out (0: never skip)")
	fs.IntVar(&pf.retries, "retries", -1, "connects tried after a failed one, per client, each on the next backend (-1: every backend)")
	fs.BoolVar(&pf.splice, "splice", false, "relay with splice(2) through a pipe per direction, without copying through user space (Linux)")
	fs.DurationVar(&pf.checkInterval, "check-interval", 0, "health-check every backend this often (0: no checks): a TCP connect, or with -check-send/-check-expect a request and a reply")
	fs.DurationVar(&pf.checkTimeout, "check-timeout", time.Second, "a health check fails if it takes longer (at most -check-interval)")
	fs.IntVar(&pf.checkFall, "check-fall", 3, "failed checks in a row that take a backend out of the rotation")
	fs.IntVar(&pf.checkRise, "check-rise", 2, "passed checks in a row that bring it back")
	fs.StringVar(&pf.checkSend, "check-send", "", `what a check writes once connected; Go escapes such as \r\n are read`)
	fs.StringVar(&pf.checkExpect, "check-expect", "", "what the reply must contain for the check to pass; Go escapes are read")
	fs.StringVar(&pf.sendProxy, "send-proxy", "", "start each backend connection with a PROXY protocol header carrying the client's address: v1 (text) or v2 (binary), as HAProxy's send-proxy and send-proxy-v2 (L7 health checks send one too)")
	fs.BoolVar(&pf.backendTLS, "backend-tls", false, "connect to the backends with TLS; their certificates are verified against the system's authorities, or -backend-ca")
	fs.StringVar(&pf.backendCA, "backend-ca", "", "with -backend-tls: trust this authority's certificate (PEM file)")
	fs.BoolVar(&pf.backendInsecure, "backend-insecure-skip-verify", false, "with -backend-tls: do not verify the backends' certificates (testing only)")
}

// proxy makes the relay.Proxy the flags describe, and its pool.
func (pf *proxyFlags) proxy(backends []string, log *slog.Logger) (*relay.Proxy, *relay.Pool, error) {
	if pf.connectTimeout <= 0 || pf.downFor < 0 {
		return nil, nil, fmt.Errorf("-connect-timeout must be > 0 and -down-for >= 0")
	}
	var upTLS *tls.Config
	if pf.backendTLS {
		var err error
		if upTLS, err = clientTLS(pf.backendCA, pf.backendInsecure); err != nil {
			return nil, nil, err
		}
	} else if pf.backendCA != "" || pf.backendInsecure {
		return nil, nil, fmt.Errorf("-backend-ca and -backend-insecure-skip-verify need -backend-tls")
	}
	opts := []relay.PoolOption{
		relay.WithPolicy(pf.policy),
		relay.WithConnectTimeout(pf.connectTimeout),
		relay.WithEjection(1, pf.downFor),
		relay.WithRetries(pf.retries),
	}
	if upTLS != nil {
		opts = append(opts, relay.WithDialOptions(engine.DialTLS(upTLS)))
	}
	if pf.checkInterval > 0 {
		send, err := unescape("-check-send", pf.checkSend)
		if err != nil {
			return nil, nil, err
		}
		expect, err := unescape("-check-expect", pf.checkExpect)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, relay.WithHealthCheck(relay.HealthCheck{
			Interval: pf.checkInterval, Timeout: min(pf.checkTimeout, pf.checkInterval),
			Fall: pf.checkFall, Rise: pf.checkRise, Send: send, Expect: expect,
		}))
	}
	pool, err := relay.NewPool(backends, opts...)
	if err != nil {
		return nil, nil, err
	}
	popts := []relay.Option{relay.WithPool(pool), relay.WithSplice(pf.splice), relay.WithLogger(log)}
	switch pf.sendProxy {
	case "":
	case "v1", "1":
		popts = append(popts, relay.WithSendProxy(1))
	case "v2", "2":
		popts = append(popts, relay.WithSendProxy(2))
	default:
		return nil, nil, fmt.Errorf("-send-proxy %q: want v1 or v2", pf.sendProxy)
	}
	if pf.rateConn > 0 || pf.rateTotal > 0 {
		popts = append(popts, relay.WithRateLimit(engine.RateLimit{Rate: int64(pf.rateConn)}, engine.RateLimit{Rate: int64(pf.rateTotal)}))
	}
	if pf.checkInterval > 0 {
		// The engine's tick paces the checks: a tenth of the interval
		// keeps them within 10 % of it.
		popts = append(popts, relay.WithTick(max(pf.checkInterval/10, time.Millisecond)))
	}
	px, err := relay.New(popts...)
	return px, pool, err
}

// unescape reads Go escapes (\r, \n, \x00) in a flag's value.
func unescape(flag, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	u, err := strconv.Unquote(`"` + s + `"`)
	if err != nil {
		return nil, fmt.Errorf("%s %q: not a string with Go escapes: %v", flag, s, err)
	}
	return []byte(u), nil
}

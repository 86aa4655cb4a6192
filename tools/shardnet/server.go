//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/balancer"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/metrics"
)

// defaultAddr is what a server command serves when -addr is not given and
// the command has no address of its own (http and kv have).
const defaultAddr = "127.0.0.1:7000"

// serverFlags are the flags every server command shares.
type serverFlags struct {
	addrs       addrList
	defaultAddr string // served when -addr is not given
	shards      int
	balancer    string
	reusePort   bool
	pin         bool
	idle        time.Duration
	busyPoll    time.Duration
	stats       time.Duration
	debug       string
	verbose     bool
	metrics     string   // -metrics: serve Prometheus metrics here
	acceptProxy bool     // -accept-proxy: every connection starts with a PROXY header
	rateConn    rateFlag // -rate-conn: each connection's limit, bytes/s each way
	rateTotal   rateFlag // -rate-total: all connections together, bytes/s each way
	// rateInHandler says the command's handler applies -rate-conn and
	// -rate-total (the proxy's relay), not the listeners.
	rateInHandler bool
	metricsOpts   []metrics.Option // what a command adds to the engine's metrics

	// drain, when set, runs on SIGTERM before the engine stops, for at
	// most drainTimeout (a command with connections worth finishing sets
	// it; SIGINT stops at once).
	drain        func(context.Context) error
	drainTimeout time.Duration
	tls          tlsFlags // registered only by the commands that serve TLS
	// waitMode, when a command chose the shards' idle wait itself (the
	// proxy's -wait), names it in the start-up line.
	waitMode string

	// upgradeSock is -upgrade-sock: the unix socket a new process takes
	// the listening sockets over from (upgrade.go).
	upgradeSock string
	// beforeDrain, when set, runs once this process has handed its
	// listening sockets over, before it drains (http answers with
	// Connection: close from then on).
	beforeDrain func()
}

// addrList is a repeatable, comma-separated -addr flag.
type addrList []string

func (a *addrList) String() string { return strings.Join(*a, ",") }

func (a *addrList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*a = append(*a, s)
		}
	}
	return nil
}

// register adds the shared flags to fs; defaultAddr is served when -addr is
// not given.
func (sf *serverFlags) register(fs *flag.FlagSet, defaultAddr string) {
	sf.defaultAddr = defaultAddr
	fs.Var(&sf.addrs, "addr", "address to serve, repeatable or comma-separated: host:port, tcp://, tcp4://, tcp6://, unix:///path (default "+defaultAddr+")")
	fs.IntVar(&sf.shards, "shards", 0, "number of shards (default GOMAXPROCS)")
	fs.StringVar(&sf.balancer, "balancer", "rr", "how connections are spread over shards: rr|lc|hash|p2c")
	fs.BoolVar(&sf.reusePort, "reuseport", false, "one SO_REUSEPORT listener per shard (the kernel balances; -balancer does not apply)")
	fs.BoolVar(&sf.pin, "pin", false, "pin shard i to CPU i of the allowed set")
	fs.DurationVar(&sf.idle, "idle", 0, "close connections idle this long (0: never)")
	fs.DurationVar(&sf.busyPoll, "busy-poll", 0, "keep each shard polling this long after its last ready connection instead of sleeping (e.g. 20us; costs CPU, saves the sender a wake-up; 0: off)")
	fs.DurationVar(&sf.stats, "stats", 0, "print per-shard stats this often (0: only at exit)")
	fs.StringVar(&sf.debug, "debug", "", "serve net/http/pprof and per-shard stats (expvar JSON at /debug/vars) on this loopback address, e.g. 127.0.0.1:6060")
	fs.BoolVar(&sf.verbose, "v", false, "log engine warnings and errors to stderr")
	fs.StringVar(&sf.upgradeSock, "upgrade-sock", "", "restart without refusing a connection: a process started with this unix socket path takes the listening sockets over from the one serving it, which then drains (SIGUSR2 re-executes the program to the same effect)")
	fs.DurationVar(&sf.drainTimeout, "drain-timeout", 30*time.Second, "after handing the listening sockets to a new process (and, for proxy, on SIGTERM), how long connections may take to finish before they are closed")
	fs.BoolVar(&sf.acceptProxy, "accept-proxy", false, "every connection must start with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends): the server sees the client's address from it, and closes connections without one; only for listeners that trusted balancers alone can reach")
	fs.Var(&sf.rateConn, "rate-conn", "limit each connection to this rate each way (what it sends and what it receives; token buckets refilled every 20 ms); "+rateUnits+"; 0: no limit")
	fs.Var(&sf.rateTotal, "rate-total", "limit all connections together to this rate each way, shared fairly among the busy ones on every shard; same units as -rate-conn; 0: no limit")
	fs.StringVar(&sf.metrics, "metrics", "", metricsFlagHelp)
}

// options turns the flags into engine options.
func (sf *serverFlags) options(stderr io.Writer) ([]engine.Option, error) {
	b, err := balancer.Parse(sf.balancer)
	if err != nil {
		return nil, err
	}
	opts := []engine.Option{
		engine.WithBalancer(b),
		engine.WithReusePort(sf.reusePort),
		engine.WithPinning(sf.pin),
		engine.WithIdleTimeout(sf.idle),
		engine.WithBusyPoll(sf.busyPoll),
	}
	if sf.shards > 0 {
		opts = append(opts, engine.WithShards(sf.shards))
	}
	wait, err := waitOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, wait...)
	if sf.metrics != "" || sf.debug != "" {
		// Someone reads the loop-lag histogram: sample it.
		opts = append(opts, engine.WithLagSampling(50*time.Millisecond))
	}
	if sf.verbose {
		opts = append(opts, engine.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	return opts, nil
}

// serve starts the engine on the flags' addresses, prints the start-up
// line, and runs until SIGINT or SIGTERM; then it stops gracefully and
// prints the totals.
func serve(name string, sf *serverFlags, h engine.Handler, extra []engine.Option, stdout, stderr io.Writer) int {
	explicit := len(sf.addrs) > 0
	if !explicit {
		sf.addrs = addrList{sf.defaultAddr}
	}
	opts, err := sf.options(stderr)
	if err == nil && sf.drainTimeout < 0 {
		err = fmt.Errorf("-drain-timeout %v: want >= 0", sf.drainTimeout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		return 2
	}
	tcfg, err := sf.tls.config()
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		return 2
	}
	if sf.tls.caFile != "" {
		defer os.Remove(sf.tls.caFile)
	}
	var lopts []engine.ListenOption
	if sf.acceptProxy {
		lopts = append(lopts, engine.ListenProxyProto(true))
	}
	if tcfg != nil {
		lopts = append(lopts, engine.ListenTLS(tcfg))
	}
	if (sf.rateConn > 0 || sf.rateTotal > 0) && !sf.rateInHandler {
		per := engine.RateLimit{Rate: int64(sf.rateConn)}
		var g *engine.RateGroup
		if sf.rateTotal > 0 {
			total := engine.RateLimit{Rate: int64(sf.rateTotal)}
			if g, err = engine.NewRateGroup(total, total); err != nil {
				fmt.Fprintf(stderr, "shardnet %s: -rate-total: %v\n", name, err)
				return 2
			}
		}
		lopts = append(lopts, engine.ListenRateLimit(per, per, g))
	}
	up, err := newUpgrader(name, sf.upgradeSock, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		return 1
	}
	defer up.close()
	e, err := engine.New(h, append(opts, extra...)...)
	if err == nil {
		if err = up.listen(e, sf.addrs, explicit, lopts...); err != nil {
			e.Stop(context.Background())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		return 1
	}
	var bound []string
	for _, a := range e.Addrs() {
		bound = append(bound, a.Network()+"://"+a.String())
	}
	mode := "balancer=" + sf.balancer
	if sf.reusePort {
		mode = "reuseport"
	}
	switch {
	case sf.tls.caFile != "":
		mode += " tls=self-signed ca=" + sf.tls.caFile
	case tcfg != nil:
		mode += " tls=" + sf.tls.files
	}
	if sf.acceptProxy {
		mode += " accept-proxy"
	}
	if sf.waitMode != "" {
		mode += " wait=" + sf.waitMode
	}
	fmt.Fprintf(stdout, "shardnet %s listening on %s shards=%d %s\n", name, strings.Join(bound, ","), e.Shards(), mode)
	if err := up.tookOver(); err != nil {
		fmt.Fprintf(stderr, "shardnet %s: %v\n", name, err)
		e.Stop(context.Background())
		return 1
	}
	if sf.debug != "" {
		stopDebug, err := serveDebug(sf.debug, e)
		if err != nil {
			fmt.Fprintf(stderr, "shardnet %s: -debug: %v\n", name, err)
			e.Stop(context.Background())
			return 1
		}
		stopDebug = sync.OnceFunc(stopDebug)
		defer stopDebug()
		up.frees = append(up.frees, stopDebug)
	}
	if sf.metrics != "" {
		addr, stopMetrics, err := metrics.Serve(sf.metrics, metrics.New(e, sf.metricsOpts...))
		if err != nil {
			fmt.Fprintf(stderr, "shardnet %s: -metrics: %v\n", name, err)
			e.Stop(context.Background())
			return 1
		}
		stopMetrics = sync.OnceFunc(stopMetrics)
		defer stopMetrics()
		up.frees = append(up.frees, stopMetrics)
		fmt.Fprintf(stdout, "shardnet %s: metrics on http://%s/metrics\n", name, addr)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	var tick <-chan time.Time
	if sf.stats > 0 {
		t := time.NewTicker(sf.stats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			printStats(stdout, e.Stats())
		case <-up.usr2:
			if up.restart(e, nil, sf) {
				return stopServer(name, e, stdout, stderr)
			}
		case peer := <-up.peers:
			if up.restart(e, peer, sf) {
				return stopServer(name, e, stdout, stderr)
			}
		case s := <-sig:
			if s == syscall.SIGTERM && sf.drain != nil {
				fmt.Fprintf(stdout, "shardnet %s: %v, draining for up to %v\n", name, s, sf.drainTimeout)
				ctx, cancel := context.WithTimeout(context.Background(), sf.drainTimeout)
				if err := sf.drain(ctx); err != nil {
					fmt.Fprintf(stdout, "shardnet %s: drain: %v; closing what is left\n", name, err)
				}
				cancel()
			}
			fmt.Fprintf(stdout, "shardnet %s: %v, stopping\n", name, s)
			return stopServer(name, e, stdout, stderr)
		}
	}
}

// stopServer stops e gracefully (10 s at most) and prints the totals.
func stopServer(name string, e *engine.Engine, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := e.Stop(ctx)
	cancel()
	printStats(stdout, e.Stats())
	if err != nil {
		fmt.Fprintf(stderr, "shardnet %s: stop: %v\n", name, err)
		return 1
	}
	return 0
}

func printStats(w io.Writer, st engine.Stats) {
	var total engine.ShardStats
	for _, s := range st.Shards {
		fmt.Fprintf(w, "shard %d: conns=%d opened=%d closed=%d in=%d out=%d queued-tasks=%d iterations=%d busy=%v cpu=%d\n",
			s.Shard, s.Conns, s.Opened, s.Closed, s.BytesIn, s.BytesOut, s.TasksQueued, s.Iterations, s.Busy.Round(time.Millisecond), s.CPU)
		total.Conns += s.Conns
		total.Opened += s.Opened
		total.Closed += s.Closed
		total.BytesIn += s.BytesIn
		total.BytesOut += s.BytesOut
	}
	fmt.Fprintf(w, "total: conns=%d opened=%d closed=%d in=%d out=%d refused=%d tls-refused=%d tls-failed=%d proxy-failed=%d\n",
		total.Conns, total.Opened, total.Closed, total.BytesIn, total.BytesOut, st.Refused, st.TLSRefused, st.TLSFailed, st.ProxyFailed)
}

// newFlagSet makes a command's flag set with a usage text that shows
// examples.
func newFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: shardnet %s [flags]\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nexamples:\n%s", examples)
	}
	return fs
}

// parseFlags parses args and maps -help to exit code 0.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return 2, false
	}
	return 0, true
}

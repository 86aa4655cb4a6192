//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shardnet/shardnet/engine"
)

// The load generator is itself a shardnet engine: one shard per core, each
// owning its share of the connections, so it scales like the servers it
// measures and its hot path (verify the echo against the pattern, record
// the latency, write the next message) allocates nothing. See
// bench_conn.go for the per-connection state machine.

// benchConfig is the bench command's flags.
type benchConfig struct {
	addr      string
	conns     int
	size      int
	pipeline  int
	duration  time.Duration
	mode      string // "echo" or "sink"
	rate      int    // total messages per second; 0: as fast as the server answers
	shards    int
	pin       bool
	jsonOut   bool
	dialLimit time.Duration

	tls         bool   // connect with TLS
	tlsCA       string // trust this authority (PEM file) instead of the system's
	tlsInsecure bool   // skip verifying the server's certificate (explicit only)
	tlsConfig   *tls.Config

	udp      bool          // datagrams to a UDP echo server (bench_udp.go)
	udpDrain time.Duration // with udp: how long the in-flight echoes may take after the load
	udpGSO   bool          // with udp: the client may send a flow's runs with GSO
	udpTrain int           // with udp and rate: datagrams sent on one flow before the next
}

// benchRun is one run's shared state.
type benchRun struct {
	cfg     benchConfig
	pattern []byte // message k of connection i is pattern[off : off+size], off = (k+i) % patternPeriod
	eng     *engine.Engine
	shards  []*benchShard
	epoch   time.Time

	started  atomic.Bool // the clock runs: messages count
	stopping atomic.Bool // the duration is over or the run failed: stop sending, stop counting

	mu       sync.Mutex
	errs     []string // the first few error messages; guarded by mu
	errCount int      // guarded by mu
	mismatch bool     // guarded by mu
	failed   chan struct{}
	failOnce sync.Once
}

// patternPeriod is prime, so message k and k+1 (and connection i and i+1)
// differ in every byte: a lost, repeated or crossed message is a mismatch,
// not only a flipped byte.
const patternPeriod = 251

// maxErrorLines caps the error messages kept for the report.
const maxErrorLines = 10

func runBench(args []string, stdout, stderr io.Writer) int {
	var cfg benchConfig
	fs := newFlagSet("bench", "Load generator: -c connections, each with -pipeline messages of -size bytes in\nflight (echo mode) or writing as fast as it can (sink mode). Every echoed byte\nis checked against the pattern sent; a mismatch exits with status 1. Prints\none line per second, then msgs/s, MB/s and latency percentiles (HDR histogram).", `  shardnet bench                                        # echo at 127.0.0.1:7000, 100 conns, 64 B, 10 s
  shardnet bench -addr 127.0.0.1:7000 -c 1000 -size 4096 -pipeline 16 -duration 5s
  shardnet bench -rate 20000 -c 50                      # latency at a fixed 20k msgs/s in total
  shardnet bench -mode sink -size 65536 -c 4            # one-way throughput to a server that discards
  shardnet bench -json -duration 3s | jq .msgs_per_sec  # for scripts
  taskset -c 1 shardnet bench -shards 1                 # one pinned core, as benchmarks/ runs it
  shardnet bench -tls -tls-ca ca.pem -addr localhost:7000  # against shardnet echo -tls
  shardnet bench -udp -c 100 -pipeline 16               # UDP echo at 127.0.0.1:7001: loss, reordering, duplicates
  shardnet bench -udp -rate 50000 -c 10 -size 1200      # UDP open loop at a fixed 50k datagrams/s
`, stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "server address: host:port, tcp://, unix:///path")
	fs.IntVar(&cfg.conns, "c", 100, "connections")
	fs.IntVar(&cfg.size, "size", 64, "message size in bytes")
	fs.IntVar(&cfg.pipeline, "pipeline", 1, "messages in flight per connection (echo mode)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to send")
	fs.StringVar(&cfg.mode, "mode", "echo", "echo: verify the echo and time it; sink: only send")
	fs.IntVar(&cfg.rate, "rate", 0, "fixed total message rate per second (0: as fast as possible); sent on a 100µs schedule over the connections with room in their pipeline; a message sent more than one tick late, because no connection had room, is timed from when it was due (coordinated omission corrected)")
	fs.IntVar(&cfg.shards, "shards", 0, "client shards (default GOMAXPROCS)")
	fs.BoolVar(&cfg.pin, "pin", false, "pin client shard i to CPU i of the allowed set")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the summary as one JSON object on stdout (progress lines go to stderr)")
	fs.DurationVar(&cfg.dialLimit, "connect-timeout", 5*time.Second, "connect timeout per connection")
	fs.BoolVar(&cfg.tls, "tls", false, "connect with TLS; the server's certificate is verified against the system's authorities, or -tls-ca")
	fs.StringVar(&cfg.tlsCA, "tls-ca", "", "with -tls: trust this authority's certificate (PEM file), e.g. the ca= file of shardnet echo -tls-self-signed")
	fs.BoolVar(&cfg.tlsInsecure, "tls-insecure-skip-verify", false, "with -tls: do not verify the server's certificate (testing only)")
	fs.BoolVar(&cfg.udp, "udp", false, "UDP: -c connected sockets (flows) send datagrams with a flow id, a sequence number and a send time to a UDP echo server (default address 127.0.0.1:7001); every echo is verified, loss, reordering and duplicates are counted. With -rate the load is open loop (-pipeline is ignored)")
	fs.DurationVar(&cfg.udpDrain, "udp-drain", time.Second, "with -udp: after the load, wait this long at most for the echoes still in flight before counting the rest as lost")
	fs.IntVar(&cfg.udpTrain, "udp-train", 1, "with -udp -rate: send this many datagrams on one flow before moving to the next (a peer sending its window at once); 1: round robin, one datagram per flow")
	fs.BoolVar(&cfg.udpGSO, "udp-gso", true, "with -udp: the client sends a flow's runs of datagrams with UDP segmentation offload where the kernel has it; false: every datagram leaves as a packet of its own, as from an ordinary UDP stack (the client still receives with GRO)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if cfg.udp {
		addrSet := false
		fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
		if !addrSet {
			cfg.addr = strings.TrimPrefix(defaultUDPAddr, "udp://")
		}
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "shardnet bench: %v\n", err)
		return 2
	}
	if cfg.udp {
		return benchUDP(cfg, stdout, stderr)
	}
	return bench(cfg, stdout, stderr)
}

func (c *benchConfig) validate() error {
	switch {
	case c.conns < 1:
		return fmt.Errorf("-c %d: want at least 1", c.conns)
	case c.size < 1 || c.size > 64<<20:
		return fmt.Errorf("-size %d: want 1..64Mi", c.size)
	case c.pipeline < 1 || c.pipeline > 1<<16:
		return fmt.Errorf("-pipeline %d: want 1..65536", c.pipeline)
	case c.duration <= 0:
		return fmt.Errorf("-duration %v: want > 0", c.duration)
	case c.mode != "echo" && c.mode != "sink":
		return fmt.Errorf("-mode %q: want echo or sink", c.mode)
	case c.rate < 0:
		return fmt.Errorf("-rate %d: want >= 0", c.rate)
	case c.shards < 0:
		return fmt.Errorf("-shards %d: want >= 0", c.shards)
	case c.dialLimit <= 0:
		return fmt.Errorf("-connect-timeout %v: want > 0", c.dialLimit)
	}
	if c.udp {
		switch {
		case c.size < udpHeaderLen || c.size > udpMaxSize:
			return fmt.Errorf("-size %d with -udp: want %d..%d (a header, then the pattern)", c.size, udpHeaderLen, udpMaxSize)
		case c.mode != "echo":
			return fmt.Errorf("-mode %s with -udp: only echo", c.mode)
		case c.tls:
			return fmt.Errorf("-tls with -udp: not supported")
		case c.udpDrain < 0:
			return fmt.Errorf("-udp-drain %v: want >= 0", c.udpDrain)
		case c.udpTrain < 1 || c.udpTrain > udpWindow:
			return fmt.Errorf("-udp-train %d: want 1..%d", c.udpTrain, udpWindow)
		}
	}
	if c.tls {
		cfg, err := clientTLS(c.tlsCA, c.tlsInsecure)
		if err != nil {
			return fmt.Errorf("-tls-ca: %w", err)
		}
		c.tlsConfig = cfg
	} else if c.tlsCA != "" || c.tlsInsecure {
		return fmt.Errorf("-tls-ca and -tls-insecure-skip-verify need -tls")
	}
	if c.shards == 0 {
		c.shards = runtime.GOMAXPROCS(0)
	}
	c.shards = min(c.shards, c.conns)
	return nil
}

// bench runs the load, prints the progress and the summary, and returns the
// exit code: 0, or 1 after a mismatch or any connection error.
func bench(cfg benchConfig, stdout, stderr io.Writer) int {
	r := &benchRun{cfg: cfg, failed: make(chan struct{})}
	r.pattern = make([]byte, cfg.size+patternPeriod)
	for i := range r.pattern {
		r.pattern[i] = byte(i % patternPeriod)
	}
	for i := 0; i < cfg.shards; i++ {
		r.shards = append(r.shards, newBenchShard(r, i))
	}
	opts := []engine.Option{engine.WithShards(cfg.shards), engine.WithPinning(cfg.pin)}
	if cfg.rate > 0 {
		opts = append(opts, engine.WithTick(rateTick))
	}
	if cfg.mode == "sink" {
		// Keep a bounded queue per connection; OnDrained refills it.
		opts = append(opts, engine.WithWatermarks(sinkLow, sinkHigh))
	} else {
		// A connection's output is at most its pipeline; the engine must
		// not stop reading echoes because of it, or a deep pipeline of
		// large messages would deadlock against a server that also waits
		// for its output to drain.
		q := max(64<<20, 2*cfg.pipeline*cfg.size)
		opts = append(opts, engine.WithMaxQueuedOutput(q), engine.WithWatermarks(q, q))
	}
	e, err := engine.New(benchHandler{r}, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet bench: %v\n", err)
		return 1
	}
	r.eng = e
	defer e.Stop(context.Background())

	progress := stdout
	if cfg.jsonOut {
		progress = stderr
	}
	if err := r.connect(); err != nil {
		fmt.Fprintf(stderr, "shardnet bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(progress, "bench: %s %s, %d connections, %d B messages, pipeline %d, %d shards, %v%s\n",
		cfg.mode, cfg.addr, cfg.conns, cfg.size, cfg.pipeline, cfg.shards, cfg.duration, rateNote(cfg.rate))

	r.epoch = time.Now()
	r.started.Store(true)
	for _, s := range r.shards {
		s.start()
	}
	res := r.watch(progress)
	r.stopping.Store(true)

	return r.finish(&res.benchErrors, &res, res.print, stdout, stderr)
}

// finish ends a run whose figures are taken: it stops the client engine,
// records the run's errors in errs (part of res), and writes res, as JSON
// with -json and by print otherwise, with the error messages on stderr.
// It returns the exit code: 1 when any error was counted.
func (r *benchRun) finish(errs *benchErrors, res any, print func(io.Writer), stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	r.eng.Stop(ctx)
	cancel()
	r.mu.Lock()
	errs.Errors = r.errCount
	errs.ErrorMessages = append([]string(nil), r.errs...)
	errs.Mismatch = r.mismatch
	r.mu.Unlock()
	if r.cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		print(stdout)
	}
	for _, m := range errs.ErrorMessages {
		fmt.Fprintf(stderr, "shardnet bench: %s\n", m)
	}
	if errs.Errors > 0 {
		return 1
	}
	return 0
}

func rateNote(rate int) string {
	if rate == 0 {
		return ""
	}
	return fmt.Sprintf(", %d msgs/s", rate)
}

// connect dials every connection and waits until each is open or failed.
// It fails when none connects.
func (r *benchRun) connect() error {
	var wg sync.WaitGroup
	var ok atomic.Int64
	var firstErr atomic.Value
	var tlsOpt []engine.DialOption
	if r.cfg.tlsConfig != nil {
		tlsOpt = append(tlsOpt, engine.DialTLS(r.cfg.tlsConfig))
	}
	for i := 0; i < r.cfg.conns; i++ {
		s := r.shards[i%len(r.shards)]
		bc := &benchConn{r: r, sh: s, idx: i}
		wg.Add(1)
		err := r.eng.Dial(r.cfg.addr, func(c *engine.Conn, err error) {
			defer wg.Done()
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				r.fail(false, "connect: %v", err)
				return
			}
			ok.Add(1)
			s.conns = append(s.conns, bc)
		}, append([]engine.DialOption{engine.OnShard(s.idx), engine.DialTimeout(r.cfg.dialLimit), engine.DialHandler(bc)}, tlsOpt...)...)
		if err != nil {
			wg.Done()
			return err
		}
	}
	wg.Wait()
	if ok.Load() == 0 {
		return fmt.Errorf("no connection to %s: %v", r.cfg.addr, firstErr.Load())
	}
	return nil
}

// fail records an error; a mismatch also ends the run at once.
func (r *benchRun) fail(mismatch bool, format string, args ...any) {
	r.mu.Lock()
	r.errCount++
	if len(r.errs) < maxErrorLines {
		r.errs = append(r.errs, fmt.Sprintf(format, args...))
	}
	if mismatch {
		r.mismatch = true
	}
	r.mu.Unlock()
	if mismatch {
		r.failOnce.Do(func() { close(r.failed) })
	}
}

// watch prints a line per second until the duration ends, a mismatch
// stops the run, or SIGINT; it returns the totals.
func (r *benchRun) watch(w io.Writer) benchResult {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(r.cfg.duration)
	defer end.Stop()
	total := r.newHistogram()
	var lastMsgs uint64
	last := r.epoch
	for {
		select {
		case now := <-tick.C:
			msgs, _ := r.counts()
			r.merge(total)
			dt := now.Sub(last).Seconds()
			d := float64(msgs - lastMsgs)
			line := fmt.Sprintf("[%6.1fs] %10.0f msgs/s %10.2f MB/s", now.Sub(r.epoch).Seconds(), d/dt, d*float64(r.cfg.size)/dt/1e6)
			if r.cfg.mode == "echo" {
				line += fmt.Sprintf("   p99 so far %v", usDuration(total.ValueAtQuantile(99)))
			}
			fmt.Fprintln(w, line)
			lastMsgs, last = msgs, now
			continue
		case <-end.C:
		case <-r.failed:
		case <-sig:
		}
		break
	}
	r.stopping.Store(true)
	elapsed := time.Since(r.epoch)
	msgs, _ := r.counts()
	r.merge(total)
	return r.result(msgs, elapsed, total)
}

// counts sums the shards' counters. Sink mode counts what the engine wrote
// to the sockets, not what was queued.
func (r *benchRun) counts() (msgs, bytes uint64) {
	if r.cfg.mode == "sink" {
		st := r.eng.Stats()
		for _, s := range st.Shards {
			bytes += s.BytesOut
		}
		return bytes / uint64(r.cfg.size), bytes
	}
	for _, s := range r.shards {
		msgs += s.msgs.Load()
	}
	return msgs, msgs * uint64(r.cfg.size)
}

// merge replaces h with the union of the shards' histograms.
func (r *benchRun) merge(h *hdrhistogram.Histogram) {
	h.Reset()
	for _, s := range r.shards {
		s.mu.Lock()
		h.Merge(s.hist)
		s.mu.Unlock()
	}
}

// newHistogram records latencies in nanoseconds, from 1 ns to 100 s, to 3
// significant digits.
func (r *benchRun) newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(100*time.Second), 3)
}

// usDuration shows a latency in nanoseconds rounded for a person.
func usDuration(ns int64) time.Duration {
	d := time.Duration(ns)
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

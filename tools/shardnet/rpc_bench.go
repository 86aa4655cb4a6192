//go:build linux

package main

import (
	"context"
	encbin "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/tools/rpc"
)

// rpcBenchConfig is the rpc-bench command's flags.
type rpcBenchConfig struct {
	addr     string
	conns    int
	inflight int
	size     int
	duration time.Duration
	rate     int
	method   string // "echo" or "offload"
	shards   int
	pin      bool
	timeout  time.Duration
	jsonOut  bool
	coalesce bool
}

// rpcBench is one run. Each of its conns×inflight slots is one call at a
// time: at full speed a slot calls again from the previous call's
// callback; with -rate a pacer hands due calls to free slots.
type rpcBench struct {
	cfg    rpcBenchConfig
	cl     *rpc.Client
	method uint16
	epoch  time.Time
	free   chan *rpcSlot // -rate: slots with no call in flight
	ramp   []byte        // ramp[k] = byte(k), 256+size long: the requests' patterns are slices of it
	hists  []rpcHist     // slot i records into hists[i%len]

	stopping atomic.Bool
	calls    atomic.Uint64 // verified answers since the clock started
	errCount atomic.Uint64
	mu       sync.Mutex
	errs     []string // the first few errors; guarded by mu
}

// rpcHist is a latency histogram with its lock (a slot's callback runs on
// whichever client shard owns the connection its call went out on).
type rpcHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte
}

// rpcSlot is one call in flight. Its request carries a sequence number
// and a pattern derived from it, so the answer is checked byte for byte
// against what this slot sent: a crossed, cut or corrupted answer is an
// error.
type rpcSlot struct {
	b     *rpcBench
	idx   int
	seq   uint64
	req   []byte
	start int64 // when the call was due, on the bench's clock
	done  rpc.Callback
}

func runRPCBench(args []string, stdout, stderr io.Writer) int {
	var cfg rpcBenchConfig
	fs := newFlagSet("rpc-bench", "RPC load generator (tools/rpc client): -c connections with -inflight calls each\nin flight, every answer checked against its request. Prints calls/s and latency\npercentiles (HDR histogram).", `  shardnet rpc-bench                                    # 127.0.0.1:7300, 16 conns × 16 in flight, 64 B, 10 s
  shardnet rpc-bench -size 4096 -c 4 -inflight 64 -duration 5s
  shardnet rpc-bench -rate 20000 -c 16 -inflight 4      # fixed 20k calls/s in total
  shardnet rpc-bench -method offload                    # the server's blocking handler
  taskset -c 1 shardnet rpc-bench -shards 1 -json        # one pinned core, for scripts
`, stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:7300", "server address")
	fs.IntVar(&cfg.conns, "c", 16, "connections")
	fs.IntVar(&cfg.inflight, "inflight", 16, "calls in flight per connection (the client keeps c×inflight in flight, spread round-robin over the pool)")
	fs.IntVar(&cfg.size, "size", 64, "request size in bytes (the answer is the same size)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to call")
	fs.IntVar(&cfg.rate, "rate", 0, "fixed total calls per second (0: as fast as the server answers); a call that waits for a free slot is timed from when it was due")
	fs.StringVar(&cfg.method, "method", "echo", "echo: the server's on-shard handler; offload: its blocking handler")
	fs.IntVar(&cfg.shards, "shards", 0, "client shards (default GOMAXPROCS)")
	fs.BoolVar(&cfg.pin, "pin", false, "pin client shard i to CPU i of the allowed set")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "per-call timeout")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&cfg.coalesce, "coalesce", true, "at full speed (-rate 0): each slot keeps to one connection, and a connection holds the calls\nstarted while it has calls in flight until they are as many (rpc.WithCoalescing), so they leave in one writev")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-bench: %v\n", err)
		return 2
	}
	return rpcBenchRun(cfg, stdout, stderr)
}

func (c *rpcBenchConfig) validate() error {
	switch {
	case c.conns < 1:
		return fmt.Errorf("-c %d: want at least 1", c.conns)
	case c.inflight < 1 || c.inflight > 1<<14:
		return fmt.Errorf("-inflight %d: want 1..16384", c.inflight)
	case c.size < 8 || c.size > 1<<20:
		return fmt.Errorf("-size %d: want 8..1Mi", c.size)
	case c.duration <= 0:
		return fmt.Errorf("-duration %v: want > 0", c.duration)
	case c.rate < 0:
		return fmt.Errorf("-rate %d: want >= 0", c.rate)
	case c.method != "echo" && c.method != "offload":
		return fmt.Errorf("-method %q: want echo or offload", c.method)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout %v: want > 0", c.timeout)
	}
	if c.shards <= 0 {
		c.shards = runtime.GOMAXPROCS(0)
	}
	c.shards = min(c.shards, c.conns)
	return nil
}

// rpcBenchResult is the summary.
type rpcBenchResult struct {
	Addr          string     `json:"addr"`
	Method        string     `json:"method"`
	Connections   int        `json:"connections"`
	Inflight      int        `json:"inflight"`
	Size          int        `json:"size"`
	Rate          int        `json:"rate,omitempty"`
	Seconds       float64    `json:"seconds"`
	Calls         uint64     `json:"calls"`
	CallsPerSec   float64    `json:"calls_per_sec"`
	LatencyUs     *latencies `json:"latency_us,omitempty"`
	Errors        uint64     `json:"errors"`
	Timeouts      uint64     `json:"timeouts"`
	ErrorMessages []string   `json:"error_messages,omitempty"`
}

func rpcBenchRun(cfg rpcBenchConfig, stdout, stderr io.Writer) int {
	b := &rpcBench{cfg: cfg, method: rpcEcho, ramp: make([]byte, 256+cfg.size)}
	for k := range b.ramp {
		b.ramp[k] = byte(k)
	}
	if cfg.method == "offload" {
		b.method = rpcOffload
	}
	total := cfg.conns * cfg.inflight
	cl, err := rpc.NewClient(cfg.addr, rpc.WithConns(cfg.conns), rpc.WithClientShards(cfg.shards),
		rpc.WithMaxInflight(total), rpc.WithTimeout(cfg.timeout), rpc.WithCoalescing(cfg.coalesce && cfg.rate == 0),
		rpc.WithEngineOptions(engine.WithPinning(cfg.pin), engine.WithMaxQueuedOutput(max(64<<20, 2*total*(cfg.size+rpc.HeaderSize)))))
	if err != nil {
		fmt.Fprintf(stderr, "shardnet rpc-bench: %v\n", err)
		return 1
	}
	b.cl = cl
	b.hists = make([]rpcHist, cfg.shards)
	for i := range b.hists {
		b.hists[i].h = hdrhistogram.New(1, int64(100*time.Second), 3)
	}
	slots := make([]*rpcSlot, total)
	b.free = make(chan *rpcSlot, total)
	for i := range slots {
		s := &rpcSlot{b: b, idx: i, req: make([]byte, cfg.size)}
		s.done = s.answered
		slots[i] = s
		b.free <- s
	}
	progress := stdout
	if cfg.jsonOut {
		progress = stderr
	}
	fmt.Fprintf(progress, "rpc-bench: %s %s, %d connections × %d in flight, %d B, %d shards, %v%s\n",
		cfg.method, cfg.addr, cfg.conns, cfg.inflight, cfg.size, cfg.shards, cfg.duration, rateNote(cfg.rate))
	b.epoch = time.Now()
	pacerDone := make(chan struct{})
	if cfg.rate > 0 {
		go b.pace(pacerDone)
	} else {
		close(pacerDone)
		for range total {
			(<-b.free).call(b.now())
		}
	}
	elapsed := b.watch(progress)
	b.stopping.Store(true)
	<-pacerDone
	calls := b.calls.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cl.Close(ctx)
	cancel()

	h := hdrhistogram.New(1, int64(100*time.Second), 3)
	for i := range b.hists {
		b.hists[i].mu.Lock()
		h.Merge(b.hists[i].h)
		b.hists[i].mu.Unlock()
	}
	res := rpcBenchResult{Addr: cfg.addr, Method: cfg.method, Connections: cfg.conns, Inflight: cfg.inflight, Size: cfg.size,
		Rate: cfg.rate, Seconds: elapsed.Seconds(), Calls: calls, CallsPerSec: float64(calls) / elapsed.Seconds(),
		Errors: b.errCount.Load(), Timeouts: cl.Stats().Timeouts}
	if h.TotalCount() > 0 {
		us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
		res.LatencyUs = &latencies{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9), Max: float64(h.Max()) / 1e3}
	}
	b.mu.Lock()
	res.ErrorMessages = append([]string(nil), b.errs...)
	b.mu.Unlock()
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		fmt.Fprintf(stdout, "calls: %d in %.2fs = %.0f calls/s, errors %d (timeouts %d)\n", res.Calls, res.Seconds, res.CallsPerSec, res.Errors, res.Timeouts)
		if l := res.LatencyUs; l != nil {
			fmt.Fprintf(stdout, "latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", l.P50, l.P90, l.P99, l.P999, l.Max)
		}
	}
	for _, m := range res.ErrorMessages {
		fmt.Fprintf(stderr, "shardnet rpc-bench: %s\n", m)
	}
	if res.Errors > 0 || res.Calls == 0 {
		return 1
	}
	return 0
}

func (b *rpcBench) now() int64 { return int64(time.Since(b.epoch)) }

// call fills the slot's request for its next sequence number and sends it;
// due is when the call was due.
func (s *rpcSlot) call(due int64) {
	s.seq++
	encbin.BigEndian.PutUint64(s.req, s.seq)
	encbin.BigEndian.PutUint32(s.req[len(s.req)-4:], uint32(s.idx))
	// req[j] = byte(seq)+byte(j) for the bytes between the sequence
	// number and the slot index, copied from the ramp: a loop per byte
	// cost the one-core client more than the server spends on a 4 KiB
	// call, so the client, not the server, set the saturated rate.
	copy(s.req[8:len(s.req)-4], s.b.ramp[int(byte(s.seq))+8:])
	s.start = due
	var err error
	if s.b.cfg.rate == 0 && s.b.cfg.coalesce {
		// Each slot keeps to one connection, so the calls a batch of
		// answers starts again leave together (Client.GoOn).
		err = s.b.cl.GoOn(s.idx, s.b.method, s.req, 0, s.done)
	} else {
		// Call i on connection i%c, as the grpc bench does.
		err = s.b.cl.Go(s.b.method, s.req, 0, s.done)
	}
	if err != nil {
		if !s.b.stopping.Load() || !errors.Is(err, rpc.ErrClosed) {
			s.b.fail(err)
		}
		s.b.free <- s
	}
}

// answered is the slot's callback, on a client shard: check, record, and
// call again (full speed) or give the slot back (-rate).
func (s *rpcSlot) answered(resp []byte, err error) {
	b := s.b
	if err != nil {
		if !b.stopping.Load() || !errors.Is(err, rpc.ErrClosed) {
			b.fail(err)
		}
		b.free <- s
		return
	}
	if string(resp) != string(s.req) {
		b.fail(fmt.Errorf("slot %d call %d: answer of %d bytes does not match the request", s.idx, s.seq, len(resp)))
	} else if !b.stopping.Load() {
		lat := b.now() - s.start
		h := &b.hists[s.idx%len(b.hists)]
		h.mu.Lock()
		h.h.RecordValue(max(lat, 1))
		h.mu.Unlock()
		b.calls.Add(1)
	}
	if b.stopping.Load() || b.cfg.rate > 0 {
		b.free <- s
		return
	}
	s.call(b.now())
}

// pace issues -rate calls a second, each on a free slot, until the run
// stops. A call that finds no free slot waits and is timed from when it
// was due (coordinated omission corrected).
func (b *rpcBench) pace(done chan<- struct{}) {
	defer close(done)
	var issued uint64
	perNs := float64(b.cfg.rate) / 1e9
	for !b.stopping.Load() {
		now := b.now()
		due := uint64(float64(now) * perNs)
		for issued < due && !b.stopping.Load() {
			var s *rpcSlot
			select {
			case s = <-b.free:
			case <-time.After(100 * time.Millisecond):
				continue
			}
			s.call(int64(float64(issued) / perNs))
			issued++
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (b *rpcBench) fail(err error) {
	b.errCount.Add(1)
	b.mu.Lock()
	if len(b.errs) < maxErrorLines {
		b.errs = append(b.errs, err.Error())
	}
	b.mu.Unlock()
}

// watch prints a line a second until the duration ends or SIGINT, and
// returns the elapsed time.
func (b *rpcBench) watch(w io.Writer) time.Duration {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(b.cfg.duration)
	defer end.Stop()
	var last uint64
	lastT := b.epoch
	for {
		select {
		case now := <-tick.C:
			n := b.calls.Load()
			fmt.Fprintf(w, "[%6.1fs] %10.0f calls/s  errors %d\n", now.Sub(b.epoch).Seconds(), float64(n-last)/now.Sub(lastT).Seconds(), b.errCount.Load())
			last, lastT = n, now
			continue
		case <-end.C:
		case <-sig:
		}
		return time.Since(b.epoch)
	}
}

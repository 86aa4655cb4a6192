// Command grpcload is the load client of the gRPC suite: grpc-go over Go's
// net, calling the unary echo of ../../internal/grpcecho on -c client
// connections with -inflight calls outstanding on each, either as fast as
// the answers come (-rate 0) or at a fixed total rate (open loop). Every
// answer is checked against what was sent. The driver runs the same
// client against every gRPC server, so their figures differ only by the
// server.
//
// It prints "bench: ..." on stderr when the clock starts and, at the end,
// the JSON object that `shardnet bench -json` prints (messages,
// msgs_per_sec, seconds, latency_us, errors, mismatch, error_messages) on
// stdout, so the driver reads both alike. Exit status 1 on any error.
//
//	grpcload -addr 127.0.0.1:7000 -c 4 -inflight 16 -size 64 -rate 20000 -duration 2s -json
//
// At a fixed rate the calls are made due on a schedule checked every
// millisecond (the Go runtime's timer granularity on Linux for shorter
// sleeps) and taken by the first idle caller; a call that starts more
// than two ticks after it was due, because every caller was busy, is
// timed from when it was due (coordinated omission corrected), any other
// from when it started.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shardnet/shardnet/benchmarks/internal/grpcecho"
)

// tick is how often the fixed-rate schedule is checked.
const tick = time.Millisecond

// maxErrorLines caps the error messages kept for the report.
const maxErrorLines = 10

type config struct {
	addr            string
	conns, inflight int
	size, rate      int
	duration        time.Duration
	jsonOut         bool
	callTimeout     time.Duration
	connectTimeout  time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:7000", "server address host:port")
	flag.IntVar(&cfg.conns, "c", 4, "client connections (grpc.ClientConn, one HTTP/2 connection each)")
	flag.IntVar(&cfg.inflight, "inflight", 16, "calls outstanding per connection (callers)")
	flag.IntVar(&cfg.size, "size", 64, "payload bytes per call (at least 8)")
	flag.IntVar(&cfg.rate, "rate", 0, "fixed total calls per second (0: as fast as the answers come)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to call")
	flag.BoolVar(&cfg.jsonOut, "json", false, "print the summary as one JSON object on stdout")
	flag.DurationVar(&cfg.callTimeout, "call-timeout", 10*time.Second, "deadline of each call")
	flag.DurationVar(&cfg.connectTimeout, "connect-timeout", 5*time.Second, "deadline of each connection's first call")
	flag.Parse()
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "grpcload: %v\n", err)
		os.Exit(2)
	}
	res, err := run(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcload: %v\n", err)
		os.Exit(1)
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.print(os.Stdout)
	}
	for _, m := range res.ErrorMessages {
		fmt.Fprintf(os.Stderr, "grpcload: %s\n", m)
	}
	if res.Errors > 0 || res.Mismatch {
		os.Exit(1)
	}
}

func (c *config) validate() error {
	switch {
	case c.conns < 1:
		return fmt.Errorf("-c %d: want at least 1", c.conns)
	case c.inflight < 1:
		return fmt.Errorf("-inflight %d: want at least 1", c.inflight)
	case c.size < 8 || c.size > 4<<20:
		return fmt.Errorf("-size %d: want 8..4Mi (the first 8 bytes number the call)", c.size)
	case c.rate < 0:
		return fmt.Errorf("-rate %d: want >= 0", c.rate)
	case c.duration <= 0:
		return fmt.Errorf("-duration %v: want > 0", c.duration)
	case c.callTimeout <= 0 || c.connectTimeout <= 0:
		return errors.New("-call-timeout and -connect-timeout: want > 0")
	}
	return nil
}

// result is the summary, in the shape of `shardnet bench -json`.
type result struct {
	Conns      int     `json:"conns"`
	Inflight   int     `json:"inflight"`
	Size       int     `json:"size"`
	Rate       int     `json:"rate,omitempty"`
	Seconds    float64 `json:"seconds"`
	Messages   uint64  `json:"messages"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	LatencyUs  *struct {
		P50  float64 `json:"p50"`
		P90  float64 `json:"p90"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
		Max  float64 `json:"max"`
	} `json:"latency_us,omitempty"`
	Errors        int      `json:"errors"`
	Mismatch      bool     `json:"mismatch"`
	ErrorMessages []string `json:"error_messages,omitempty"`
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "%d calls in %.2fs: %.0f calls/s", r.Messages, r.Seconds, r.MsgsPerSec)
	if r.LatencyUs != nil {
		fmt.Fprintf(w, ", latency p50 %.0fµs p99 %.0fµs max %.0fµs", r.LatencyUs.P50, r.LatencyUs.P99, r.LatencyUs.Max)
	}
	fmt.Fprintf(w, ", %d errors\n", r.Errors)
}

// load is one run's shared state.
type load struct {
	cfg   config
	epoch time.Time
	end   time.Time
	done  atomic.Bool // the duration is over: callers stop

	calls atomic.Uint64 // answered within the duration

	mu       sync.Mutex
	hist     *hdrhistogram.Histogram // ns, answered within the duration
	errCount int
	errs     []string
	mismatch bool
}

func (l *load) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errCount++
	if len(l.errs) < maxErrorLines {
		l.errs = append(l.errs, err.Error())
	}
}

// record counts an answer that came at now, timed from start.
func (l *load) record(start, now time.Time) {
	if now.After(l.end) {
		return
	}
	l.calls.Add(1)
	l.mu.Lock()
	l.hist.RecordValue(int64(now.Sub(start)))
	l.mu.Unlock()
}

// run connects, calls for the duration and returns the summary.
func run(cfg config, progress io.Writer) (*result, error) {
	ccs := make([]*grpc.ClientConn, cfg.conns)
	for i := range ccs {
		cc, err := grpc.NewClient("passthrough:///"+cfg.addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(grpcecho.Codec{})))
		if err != nil {
			return nil, err
		}
		defer cc.Close()
		ccs[i] = cc
		// One call per connection before the clock: the HTTP/2
		// connection is up and its windows settled when counting starts.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.connectTimeout)
		var out grpcecho.Msg
		err = cc.Invoke(ctx, grpcecho.Method, &grpcecho.Msg{B: make([]byte, cfg.size)}, &out)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("connection %d: first call: %w", i, err)
		}
	}
	l := &load{cfg: cfg, hist: hdrhistogram.New(1, int64(100*time.Second), 3)}
	var due chan time.Time // the fixed rate's calls, by when each was due
	rateNote := ""
	if cfg.rate > 0 {
		due = make(chan time.Time, 4*cfg.conns*cfg.inflight)
		rateNote = fmt.Sprintf(", %d calls/s", cfg.rate)
	}
	fmt.Fprintf(progress, "bench: grpc unary %s, %d connections × %d in flight, %d B%s, %v\n",
		cfg.addr, cfg.conns, cfg.inflight, cfg.size, rateNote, cfg.duration)
	l.epoch = time.Now()
	l.end = l.epoch.Add(cfg.duration)
	var wg sync.WaitGroup
	for i := 0; i < cfg.conns*cfg.inflight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.caller(ccs[i%cfg.conns], uint32(i), due)
		}()
	}
	if due != nil {
		l.schedule(due)
		close(due)
	} else {
		time.Sleep(time.Until(l.end))
	}
	l.done.Store(true)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(cfg.callTimeout + 5*time.Second):
		l.fail(errors.New("calls still outstanding after the call timeout"))
	}
	secs := cfg.duration.Seconds()
	res := &result{Conns: cfg.conns, Inflight: cfg.inflight, Size: cfg.size, Rate: cfg.rate, Seconds: secs}
	res.Messages = l.calls.Load()
	res.MsgsPerSec = float64(res.Messages) / secs
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hist.TotalCount() > 0 {
		us := func(q float64) float64 { return float64(l.hist.ValueAtQuantile(q)) / 1e3 }
		res.LatencyUs = &struct {
			P50  float64 `json:"p50"`
			P90  float64 `json:"p90"`
			P99  float64 `json:"p99"`
			P999 float64 `json:"p999"`
			Max  float64 `json:"max"`
		}{us(50), us(90), us(99), us(99.9), float64(l.hist.Max()) / 1e3}
	}
	res.Errors, res.ErrorMessages, res.Mismatch = l.errCount, l.errs, l.mismatch
	return res, nil
}

// schedule makes calls due at the fixed rate until the duration is over.
// A call that finds the queue full stays due and goes at a later tick.
func (l *load) schedule(due chan<- time.Time) {
	perCall := float64(time.Second) / float64(l.cfg.rate)
	var issued int64
	for {
		now := time.Now()
		if !now.Before(l.end) {
			return
		}
		target := int64(float64(now.Sub(l.epoch)) / perCall)
	fill:
		for ; issued < target; issued++ {
			select {
			case due <- l.epoch.Add(time.Duration(float64(issued) * perCall)):
			default:
				break fill // every caller is busy and the queue is full
			}
		}
		time.Sleep(tick)
	}
}

// caller makes calls on cc until the duration is over: back to back, or
// one per due time from due. Each call's payload carries the caller's id
// and its sequence number, and the answer must be the same bytes.
func (l *load) caller(cc *grpc.ClientConn, id uint32, due <-chan time.Time) {
	req := make([]byte, l.cfg.size)
	for i := 8; i < len(req); i++ {
		req[i] = byte(int(id) + i)
	}
	binary.LittleEndian.PutUint32(req[4:], id)
	var out grpcecho.Msg
	in := grpcecho.Msg{B: req}
	for seq := uint32(0); !l.done.Load(); seq++ {
		start := time.Now()
		if due != nil {
			at, ok := <-due
			if !ok {
				return
			}
			start = time.Now()
			if start.Sub(at) > 2*tick {
				start = at // it left late because every caller was busy
			}
		}
		binary.LittleEndian.PutUint32(req, seq)
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.callTimeout)
		err := cc.Invoke(ctx, grpcecho.Method, &in, &out)
		cancel()
		now := time.Now()
		switch {
		case err != nil:
			if !l.done.Load() || now.Before(l.end) {
				l.fail(err)
			}
			return
		case !bytes.Equal(out.B, req):
			l.mu.Lock()
			l.mismatch = true
			l.mu.Unlock()
			l.fail(fmt.Errorf("caller %d call %d: the answer differs from the request", id, seq))
			return
		}
		l.record(start, now)
	}
}

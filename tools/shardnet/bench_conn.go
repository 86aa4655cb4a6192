//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shardnet/shardnet/engine"
)

const (
	// rateTick is how often a shard sends the messages -rate has made due:
	// the granularity of the schedule.
	rateTick = 100 * time.Microsecond
	// sinkLow and sinkHigh bound each sink connection's queued output:
	// writing stops past sinkHigh, OnDrained refills under sinkLow.
	sinkLow  = 64 << 10
	sinkHigh = 256 << 10
)

// benchShard is one client shard's share of the run. Its fields are loop
// only unless they say otherwise.
type benchShard struct {
	r     *benchRun
	idx   int
	conns []*benchConn // the shard's open connections; appended by Dial callbacks

	// msgs counts echoed messages verified since the clock started; the
	// loop adds, the reporter reads.
	msgs atomic.Uint64

	// hist holds the latencies in nanoseconds; the loop records and the
	// reporter merges, both under mu (taken once per callback, not per
	// message).
	mu   sync.Mutex
	hist *hdrhistogram.Histogram

	// -rate: the shard sends rate/shards messages a second in total,
	// each on a connection with room in its pipeline.
	perSec float64
	issued uint64       // messages sent under the schedule
	ready  []*benchConn // connections with room, each listed at most once
}

func newBenchShard(r *benchRun, idx int) *benchShard {
	s := &benchShard{r: r, idx: idx, hist: r.newHistogram()}
	if r.cfg.rate > 0 {
		// The shards' shares add up to the total rate: the first ones take
		// the remainder.
		conns := r.cfg.conns / r.cfg.shards
		if idx < r.cfg.conns%r.cfg.shards {
			conns++
		}
		s.perSec = float64(r.cfg.rate) * float64(conns) / float64(r.cfg.conns)
	}
	return s
}

// start begins the load on every connection of the shard, on its loop.
func (s *benchShard) start() {
	for _, bc := range s.conns {
		if h, ok := s.r.eng.Conn(bc.id); ok {
			h.Do(bc.begin)
		}
	}
}

// pump sends the messages the schedule has made due, one each on the
// connections that have room. Loop only (OnTick and completions).
func (s *benchShard) pump(now int64) {
	due := uint64(float64(now) / 1e9 * s.perSec)
	for s.issued < due && len(s.ready) > 0 && !s.r.stopping.Load() {
		bc := s.ready[len(s.ready)-1]
		if bc.c.Closed() {
			s.ready = s.ready[:len(s.ready)-1]
			bc.listed = false
			continue
		}
		bc.sendOne(s.dueAt(s.issued, now))
		s.issued++
		if bc.c.Closed() || bc.sent-bc.recv >= uint64(s.r.cfg.pipeline) {
			s.ready = s.ready[:len(s.ready)-1]
			bc.listed = false
		}
	}
}

// dueAt returns the time message k of the shard's schedule is timed from:
// when the schedule made it due, if that is more than one tick before now.
// A message goes out late like that only because no connection had room
// for it: the server was holding them all. Timing it from its actual send
// would leave the stall out of the latencies (coordinated omission: the
// generator waits for the server and then records only fast answers).
// Lateness within one tick is the schedule's own granularity, not the
// server's, so those messages are timed from now.
func (s *benchShard) dueAt(k uint64, now int64) int64 {
	due := int64(float64(k) * 1e9 / s.perSec)
	if due < now-int64(rateTick) {
		return due
	}
	return now
}

// benchConn is one connection's state and its handler. Loop only.
//
// Message k on connection i is pattern[off : off+size] with off =
// (k+i) % patternPeriod, so checking an echo is a memcmp against the
// pattern and sending is a Write of a slice of it: nothing is copied or
// allocated per message.
type benchConn struct {
	engine.BaseHandler
	r   *benchRun
	sh  *benchShard
	idx int
	id  uint64
	c   *engine.Conn

	sent   uint64  // messages written
	recv   uint64  // messages echoed whole and verified
	pos    int     // bytes of message recv received so far
	sentAt []int64 // send time of message k at k % pipeline, ns since the epoch
	listed bool    // in sh.ready (-rate)
}

// OnOpen keeps the connection; the load begins when every connection is up.
func (bc *benchConn) OnOpen(c *engine.Conn) error {
	bc.c = c
	bc.id = c.ID()
	bc.sentAt = make([]int64, bc.r.cfg.pipeline)
	return nil
}

// begin starts sending, on the connection's loop.
func (bc *benchConn) begin(*engine.Conn) {
	r := bc.r
	now := r.now()
	switch {
	case r.cfg.mode == "sink":
		bc.fill()
	case r.cfg.rate > 0:
		bc.listed = true
		bc.sh.ready = append(bc.sh.ready, bc)
	default:
		for i := 0; i < r.cfg.pipeline; i++ {
			bc.sendOne(now)
		}
	}
}

// sendOne writes the next message.
func (bc *benchConn) sendOne(now int64) {
	off := int((bc.sent + uint64(bc.idx)) % patternPeriod)
	bc.sentAt[bc.sent%uint64(len(bc.sentAt))] = now
	bc.sent++
	bc.c.Write(bc.r.pattern[off : off+bc.r.cfg.size])
}

// fill queues sink messages until the queue passes the high watermark.
func (bc *benchConn) fill() {
	for bc.c.OutboundBuffered() <= sinkHigh && !bc.r.stopping.Load() && !bc.c.Closed() {
		bc.sendOne(0)
	}
}

// OnDrained refills a sink connection.
func (bc *benchConn) OnDrained(*engine.Conn) {
	if bc.r.cfg.mode == "sink" {
		bc.fill()
	}
}

// OnTraffic checks the echoed bytes against what was sent, records the
// latency of each whole message and sends the next.
func (bc *benchConn) OnTraffic(c *engine.Conn) {
	r := bc.r
	b, _ := c.Next(c.Buffered())
	if r.cfg.mode == "sink" {
		return // a sink server should send nothing; ignore what it does
	}
	size := r.cfg.size
	var now int64
	var done uint64 // messages verified in this callback
	locked := false
	for len(b) > 0 {
		if bc.recv == bc.sent {
			r.fail(true, "mismatch on connection %d: %d bytes arrived after the echo of all %d messages sent", bc.idx, len(b), bc.sent)
			c.Abort()
			break
		}
		off := int((bc.recv+uint64(bc.idx))%patternPeriod) + bc.pos
		want := r.pattern[off : off+size-bc.pos]
		n := min(len(b), len(want))
		if !bytes.Equal(b[:n], want[:n]) {
			i := firstDiff(b[:n], want[:n])
			r.fail(true, "mismatch on connection %d, message %d, byte %d: got 0x%02x, want 0x%02x",
				bc.idx, bc.recv, bc.pos+i, b[i], want[i])
			c.Abort()
			break
		}
		b = b[n:]
		bc.pos += n
		if bc.pos < size {
			break
		}
		// A whole message: time it and send the next.
		bc.pos = 0
		if now == 0 {
			now = r.now()
		}
		if r.stopping.Load() {
			bc.recv++
			continue
		}
		if !locked {
			bc.sh.mu.Lock()
			locked = true
		}
		bc.sh.hist.RecordValue(now - bc.sentAt[bc.recv%uint64(len(bc.sentAt))])
		bc.recv++
		done++
		if r.cfg.rate == 0 {
			bc.sendOne(now)
		} else if !bc.listed {
			bc.listed = true
			bc.sh.ready = append(bc.sh.ready, bc)
		}
	}
	if locked {
		bc.sh.mu.Unlock()
	}
	if done > 0 {
		bc.sh.msgs.Add(done) // one atomic add per callback, not per message
	}
	if r.cfg.rate > 0 && now != 0 {
		bc.sh.pump(now)
	}
}

// OnReadEOF: the server closed its side while the run goes on.
func (bc *benchConn) OnReadEOF(c *engine.Conn) {
	if !bc.r.stopping.Load() {
		bc.r.fail(false, "connection %d: the server closed it after %d messages", bc.idx, bc.recv)
	}
	c.Close()
}

// OnClose counts a connection lost during the run as an error.
func (bc *benchConn) OnClose(c *engine.Conn, reason error) {
	if bc.r.stopping.Load() || errors.Is(reason, engine.ErrPeerClosed) ||
		errors.Is(reason, engine.ErrAborted) || errors.Is(reason, engine.ErrEngineStopped) {
		return // reported already, or the end of the run
	}
	bc.r.fail(false, "connection %d closed: %v", bc.idx, reason)
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// now returns nanoseconds since the run's epoch (monotonic).
func (r *benchRun) now() int64 { return int64(time.Since(r.epoch)) }

// benchHandler is the engine's handler; connections carry their own
// (DialHandler), so it only runs the -rate schedule.
type benchHandler struct {
	r *benchRun
}

func (benchHandler) OnBoot(*engine.Engine) error { return nil }
func (benchHandler) OnOpen(*engine.Conn) error   { return nil }
func (benchHandler) OnTraffic(c *engine.Conn)    { c.Discard(c.Buffered()) }
func (benchHandler) OnReadEOF(c *engine.Conn)    { c.Close() }
func (benchHandler) OnDrained(*engine.Conn)      {}
func (benchHandler) OnClose(*engine.Conn, error) {}

// OnTick sends what the -rate schedule has made due on this shard.
func (h benchHandler) OnTick(shard int) {
	if h.r.started.Load() {
		h.r.shards[shard].pump(h.r.now())
	}
}

// benchResult is the summary, also the -json output.
type benchResult struct {
	Mode        string     `json:"mode"`
	Addr        string     `json:"addr"`
	Connections int        `json:"connections"`
	Size        int        `json:"size"`
	Pipeline    int        `json:"pipeline"`
	Rate        int        `json:"rate,omitempty"`
	Seconds     float64    `json:"seconds"`
	Messages    uint64     `json:"messages"`
	MsgsPerSec  float64    `json:"msgs_per_sec"`
	MBPerSec    float64    `json:"mb_per_sec"`
	LatencyUs   *latencies `json:"latency_us,omitempty"`
	benchErrors
}

// benchErrors is what a run's report says of its failures: the errors
// counted, the first few messages, and whether an answer differed from
// what was sent.
type benchErrors struct {
	Errors        int      `json:"errors"`
	Mismatch      bool     `json:"mismatch"`
	ErrorMessages []string `json:"error_messages,omitempty"`
}

// print writes the report's errors line.
func (b *benchErrors) print(w io.Writer) {
	status := "ok"
	if b.Mismatch {
		status = "MISMATCH"
	}
	fmt.Fprintf(w, "errors    %d (%s)\n", b.Errors, status)
}

// latencies are the summary's percentiles, in microseconds.
type latencies struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// print writes the latency line; nil (no latency measured) writes none.
func (l *latencies) print(w io.Writer) {
	if l != nil {
		fmt.Fprintf(w, "latency   p50 %.1fµs  p90 %.1fµs  p99 %.1fµs  p99.9 %.1fµs  max %.1fµs\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	}
}

func (r *benchRun) result(msgs uint64, elapsed time.Duration, h *hdrhistogram.Histogram) benchResult {
	cfg := r.cfg
	secs := elapsed.Seconds()
	res := benchResult{
		Mode: cfg.mode, Addr: cfg.addr, Connections: cfg.conns, Size: cfg.size,
		Pipeline: cfg.pipeline, Rate: cfg.rate, Seconds: secs, Messages: msgs,
		MsgsPerSec: float64(msgs) / secs,
		MBPerSec:   float64(msgs) * float64(cfg.size) / secs / 1e6,
	}
	if cfg.mode == "echo" && h.TotalCount() > 0 {
		us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
		res.LatencyUs = &latencies{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9), Max: float64(h.Max()) / 1e3}
	}
	return res
}

func (res *benchResult) print(w io.Writer) {
	fmt.Fprintf(w, "messages  %d in %.2fs: %.0f msgs/s, %.2f MB/s\n", res.Messages, res.Seconds, res.MsgsPerSec, res.MBPerSec)
	res.LatencyUs.print(w)
	res.benchErrors.print(w)
}

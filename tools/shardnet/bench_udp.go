//go:build linux

package main

import (
	"bytes"
	"context"
	encbin "encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shardnet/shardnet/engine"
)

// bench -udp: each of -c flows is a connected UDP socket (DialPacket) on
// one of the client's shards. A datagram carries a header (flow, sequence
// number, send time) and the pattern after it, so every echo can be
// checked on its own: whose it is, which one it is, whether its bytes are
// the ones sent, and how long it took. Unlike TCP, datagrams may be lost,
// reordered or duplicated on the way; the flows count each, and the summary
// reports the loss once the in-flight datagrams have had -udp-drain to
// come back.

const (
	// udpHeaderLen is the datagram header: flow (4 bytes), sequence
	// number (8), send time in ns since the run's epoch (8).
	udpHeaderLen = 20
	// udpMaxSize is the largest UDP payload over IPv4.
	udpMaxSize = 65507
	// udpWindow is how many sequence numbers behind the newest one a flow
	// remembers: a datagram older than that cannot be told apart from a
	// duplicate, so it is counted as too old and not as received.
	udpWindow = 4096
	// udpWriteOff is how long a closed-loop flow waits for the echoes it
	// has in flight before it counts them as lost and sends new ones; a
	// written-off datagram that still arrives is counted when it does.
	udpWriteOff = 200 * time.Millisecond
)

// udpBenchRun is one -udp run. The shared error state, the clock and the
// histograms are the TCP run's.
type udpBenchRun struct {
	*benchRun
	peer   netip.AddrPort
	shards []*udpBenchShard
	drain  atomic.Bool // the sending is over: flows only count what arrives
	// phase is 1 once drain is set and 2 once stopping is; each shard's
	// seen is the phase its loop has passed (OnTick), after which none of
	// its callbacks still acts on the phase before. Counts read then are
	// final for that phase.
	phase atomic.Int32
}

// udpBenchShard is one client shard's flows. Loop only, except the atomic
// counters (the reporter reads them) and hist (under mu).
type udpBenchShard struct {
	r     *udpBenchRun
	idx   int
	flows []*udpFlow
	buf   []byte // the datagram being built; WriteTo copies it
	begun bool

	perSec    float64 // -rate: this shard's share
	issued    uint64  // -rate: datagrams sent under the schedule
	rr        int     // -rate: the next flow to send on
	lastCheck int64   // the last write-off check, ns since the epoch

	sent, recv, dups, reordered, tooOld atomic.Uint64
	seen                                atomic.Int32 // the run's phase as of the loop's last tick

	mu   sync.Mutex
	hist *hdrhistogram.Histogram
}

// udpFlow is one connected socket's sequence state. Loop only.
type udpFlow struct {
	sh  *udpBenchShard
	idx int
	pc  *engine.PacketConn

	sent       uint64 // the next sequence number to send
	recv       uint64 // unique echoes received
	high       uint64 // the newest sequence number received + 1 (0: none yet)
	seen       [udpWindow / 64]uint64
	writtenOff uint64 // in-flight datagrams counted as lost (closed loop)
	offMark    uint64 // every datagram below it not yet received is written off
	lastRecv   int64  // ns since the epoch
}

// benchUDP runs the -udp load and returns the exit code: 0, or 1 after a
// mismatch or a socket error.
func benchUDP(cfg benchConfig, stdout, stderr io.Writer) int {
	addr := strings.TrimPrefix(strings.TrimPrefix(cfg.addr, "udp://"), "udp4://")
	addr = strings.TrimPrefix(addr, "udp6://")
	peer, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet bench: -udp needs a numeric ip:port: %v\n", err)
		return 2
	}
	r := &udpBenchRun{benchRun: &benchRun{cfg: cfg, failed: make(chan struct{})}, peer: peer}
	r.pattern = make([]byte, cfg.size+patternPeriod)
	for i := range r.pattern {
		r.pattern[i] = byte(i % patternPeriod)
	}
	for i := range cfg.shards {
		s := &udpBenchShard{r: r, idx: i, buf: make([]byte, cfg.size), hist: r.newHistogram()}
		if cfg.rate > 0 {
			flows := cfg.conns / cfg.shards
			if i < cfg.conns%cfg.shards {
				flows++
			}
			s.perSec = float64(cfg.rate) * float64(flows) / float64(cfg.conns)
		}
		r.shards = append(r.shards, s)
	}
	e, err := engine.New(udpBenchHandler{r: r}, engine.WithShards(cfg.shards), engine.WithPinning(cfg.pin), engine.WithTick(rateTick),
		engine.WithPacketOffload(cfg.udpGSO, true))
	if err != nil {
		fmt.Fprintf(stderr, "shardnet bench: %v\n", err)
		return 1
	}
	r.eng = e
	defer e.Stop(context.Background())
	for i := range cfg.conns {
		s := r.shards[i%len(r.shards)]
		f := &udpFlow{sh: s, idx: i}
		pc, err := e.DialPacket(cfg.addr, f, engine.OnPacketShard(s.idx))
		if err != nil {
			fmt.Fprintf(stderr, "shardnet bench: %v\n", err)
			return 1
		}
		f.pc = pc
		s.flows = append(s.flows, f) // before started: the shard reads it only after
	}
	progress := stdout
	if cfg.jsonOut {
		progress = stderr
	}
	fmt.Fprintf(progress, "bench: udp echo %s, %d flows, %d B datagrams, %s, %d shards, %v\n",
		peer, cfg.conns, cfg.size, udpLoadNote(cfg), cfg.shards, cfg.duration)

	r.epoch = time.Now()
	r.started.Store(true)
	res := r.watchUDP(progress)

	res.Client = clientPacketStats(e.Stats())
	res.Client.GSO = cfg.udpGSO
	return r.finish(&res.benchErrors, &res, res.print, stdout, stderr)
}

func udpLoadNote(cfg benchConfig) string {
	if cfg.rate > 0 && cfg.udpTrain > 1 {
		return fmt.Sprintf("open loop at %d datagrams/s in trains of %d per flow", cfg.rate, cfg.udpTrain)
	}
	if cfg.rate > 0 {
		return fmt.Sprintf("open loop at %d datagrams/s", cfg.rate)
	}
	return fmt.Sprintf("%d in flight per flow", cfg.pipeline)
}

// watchUDP prints a line per second until the duration ends (or a
// mismatch or a signal), then lets the in-flight echoes arrive for up to
// -udp-drain and returns the totals.
func (r *udpBenchRun) watchUDP(w io.Writer) udpBenchResult {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(r.cfg.duration)
	defer end.Stop()
	total := r.newHistogram()
	var lastRecv uint64
	last := r.epoch
loop:
	for {
		select {
		case now := <-tick.C:
			c := r.counts()
			r.mergeUDP(total)
			dt := now.Sub(last).Seconds()
			d := float64(c.recv - lastRecv)
			fmt.Fprintf(w, "[%6.1fs] %10.0f datagrams/s %8.2f MB/s   in flight or lost %d  reordered %d  dups %d   p99 so far %v\n",
				now.Sub(r.epoch).Seconds(), d/dt, d*float64(r.cfg.size)/dt/1e6, c.sent-c.recv, c.reordered, c.dups,
				usDuration(total.ValueAtQuantile(99)))
			lastRecv, last = c.recv, now
		case <-end.C:
			break loop
		case <-r.failed:
			break loop
		case <-sig:
			break loop
		}
	}
	// Stop sending; the rate is over what arrived while the load ran.
	r.drain.Store(true)
	elapsed := time.Since(r.epoch)
	r.settle(1)
	atEnd := r.counts()
	deadline := time.Now().Add(r.cfg.udpDrain)
	for time.Now().Before(deadline) {
		if c := r.counts(); c.recv+c.tooOld >= c.sent {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.stopping.Store(true)
	r.settle(2)
	c := r.counts()
	r.mergeUDP(total)
	return r.udpResult(atEnd, c, elapsed, total)
}

// settle enters phase and waits (a second at most: a shard that does not
// tick is stuck, and its counts are what they are) until every shard's
// loop has passed it, so that no callback that began before it still
// sends or counts.
func (r *udpBenchRun) settle(phase int32) {
	r.phase.Store(phase)
	deadline := time.Now().Add(time.Second)
	for _, s := range r.shards {
		for s.seen.Load() < phase && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// udpCounts are the shards' counters summed.
type udpCounts struct{ sent, recv, dups, reordered, tooOld uint64 }

func (r *udpBenchRun) counts() udpCounts {
	var c udpCounts
	for _, s := range r.shards {
		// recv before sent: a datagram counted as received was counted as
		// sent before, so in flight never looks negative.
		c.recv += s.recv.Load()
		c.dups += s.dups.Load()
		c.reordered += s.reordered.Load()
		c.tooOld += s.tooOld.Load()
	}
	for _, s := range r.shards {
		c.sent += s.sent.Load()
	}
	return c
}

func (r *udpBenchRun) mergeUDP(h *hdrhistogram.Histogram) {
	h.Reset()
	for _, s := range r.shards {
		s.mu.Lock()
		h.Merge(s.hist)
		s.mu.Unlock()
	}
}

// udpBenchHandler runs each shard's share of the load on OnTick: the
// first tick starts the closed-loop flows, then every tick sends what the
// -rate schedule made due and, every udpWriteOff/4, writes off the echoes
// a flow has waited too long for.
type udpBenchHandler struct {
	engine.BaseHandler
	r *udpBenchRun
}

// OnTick drives shard i's flows.
func (h udpBenchHandler) OnTick(i int) {
	r := h.r
	s := r.shards[i]
	s.seen.Store(r.phase.Load())
	if !r.started.Load() || r.drain.Load() {
		return
	}
	now := r.now()
	if !s.begun {
		s.begun = true
		s.lastCheck = now
		if r.cfg.rate == 0 {
			for _, f := range s.flows {
				f.lastRecv = now
				for range r.cfg.pipeline {
					f.send(now)
				}
			}
		}
	}
	if r.cfg.rate > 0 {
		s.pump(now)
		return
	}
	if now-s.lastCheck >= int64(udpWriteOff/4) {
		s.lastCheck = now
		for _, f := range s.flows {
			f.writeOff(now)
		}
	}
}

// pump sends the datagrams the -rate schedule has made due, round robin
// over the shard's flows, -udp-train datagrams on each before the next. Open loop: a flow does not wait for its echoes,
// so loss shows as loss, not as a slower rate.
func (s *udpBenchShard) pump(now int64) {
	if len(s.flows) == 0 {
		return
	}
	due := uint64(float64(now) / 1e9 * s.perSec)
	for s.issued < due {
		// Timed from when the schedule made it due (see benchShard.dueAt):
		// a shard that fell behind does not hide its lateness.
		at := int64(float64(s.issued) * 1e9 / s.perSec)
		if at >= now-int64(rateTick) {
			at = now
		}
		f := s.flows[(s.rr/s.r.cfg.udpTrain)%len(s.flows)]
		s.rr++
		f.send(at)
		s.issued++
	}
}

// send writes the flow's next datagram, stamped with at.
func (f *udpFlow) send(at int64) {
	s := f.sh
	r := s.r
	b := s.buf
	encbin.BigEndian.PutUint32(b[0:], uint32(f.idx))
	encbin.BigEndian.PutUint64(b[4:], f.sent)
	encbin.BigEndian.PutUint64(b[12:], uint64(at))
	off := int((f.sent + uint64(f.idx)) % patternPeriod)
	copy(b[udpHeaderLen:], r.pattern[off:off+len(b)-udpHeaderLen])
	if err := f.pc.Write(b); err != nil {
		// Not sent (ErrOutputFull: the socket's queue is at its bound):
		// the sequence number is not used, so it is not counted as lost.
		r.fail(false, "flow %d: write: %v", f.idx, err)
		return
	}
	f.sent++
	s.sent.Add(1)
}

// writeOff counts a closed-loop flow's in-flight datagrams as lost once
// nothing has come back for udpWriteOff, and refills its window.
func (f *udpFlow) writeOff(now int64) {
	inFlight := f.sent - f.recv - f.writtenOff
	if inFlight == 0 || now-f.lastRecv < int64(udpWriteOff) {
		return
	}
	f.writtenOff += inFlight
	f.offMark = f.sent
	f.lastRecv = now
	for range f.sh.r.cfg.pipeline {
		f.send(now)
	}
}

// OnDatagram checks an echo: its flow, its sequence number, its bytes;
// counts it as new, reordered, duplicated or too old; times it; and, in
// closed loop, sends the next one.
func (f *udpFlow) OnDatagram(pc *engine.PacketConn, p []byte, _ netip.AddrPort) {
	s := f.sh
	r := s.r
	if r.stopping.Load() {
		return
	}
	if len(p) != r.cfg.size {
		r.fail(true, "mismatch on flow %d: a %d-byte datagram, want %d", f.idx, len(p), r.cfg.size)
		return
	}
	flow := encbin.BigEndian.Uint32(p[0:])
	seq := encbin.BigEndian.Uint64(p[4:])
	at := int64(encbin.BigEndian.Uint64(p[12:]))
	if flow != uint32(f.idx) || seq >= f.sent {
		r.fail(true, "mismatch on flow %d: datagram of flow %d, sequence %d; %d sent", f.idx, flow, seq, f.sent)
		return
	}
	off := int((seq + uint64(f.idx)) % patternPeriod)
	want := r.pattern[off : off+len(p)-udpHeaderLen]
	if got := p[udpHeaderLen:]; !bytes.Equal(got, want) {
		i := firstDiff(got, want)
		r.fail(true, "mismatch on flow %d, sequence %d, byte %d: got 0x%02x, want 0x%02x", f.idx, seq, udpHeaderLen+i, got[i], want[i])
		return
	}
	switch {
	case seq >= f.high:
		// Newer than any so far: forget the window slots it moves past.
		for k := f.high; k <= seq && k < f.high+udpWindow; k++ {
			f.seen[(k%udpWindow)/64] &^= 1 << (k % 64)
		}
		f.high = seq + 1
	case f.high-seq > udpWindow:
		s.tooOld.Add(1)
		return
	default:
		bit := uint64(1) << (seq % 64)
		if f.seen[(seq%udpWindow)/64]&bit != 0 {
			s.dups.Add(1)
			return
		}
		s.reordered.Add(1)
	}
	f.seen[(seq%udpWindow)/64] |= 1 << (seq % 64)
	f.recv++
	if seq < f.offMark {
		f.writtenOff-- // it was counted as lost; it came after all
	}
	now := r.now()
	f.lastRecv = now
	s.mu.Lock()
	s.hist.RecordValue(now - at)
	s.mu.Unlock()
	s.recv.Add(1)
	if r.cfg.rate == 0 && !r.drain.Load() && f.sent-f.recv-f.writtenOff < uint64(r.cfg.pipeline) {
		f.send(now)
	}
}

// OnPacketError reports what the kernel said about the flow's socket
// (ECONNREFUSED: nothing listens at the address).
func (f *udpFlow) OnPacketError(_ *engine.PacketConn, err error) {
	if !f.sh.r.stopping.Load() {
		f.sh.r.fail(false, "flow %d: %v", f.idx, err)
	}
}

// udpBenchResult is the -udp summary, also its -json output.
type udpBenchResult struct {
	Mode       string         `json:"mode"`
	Addr       string         `json:"addr"`
	Flows      int            `json:"flows"`
	Size       int            `json:"size"`
	Pipeline   int            `json:"pipeline,omitempty"`
	Rate       int            `json:"rate,omitempty"`
	Seconds    float64        `json:"seconds"`
	Sent       uint64         `json:"sent"`
	Received   uint64         `json:"received"`
	Lost       uint64         `json:"lost"`
	LossPct    float64        `json:"loss_pct"`
	Reordered  uint64         `json:"reordered"`
	Duplicated uint64         `json:"duplicated"`
	TooOld     uint64         `json:"too_old"`
	SentPerSec float64        `json:"sent_per_sec"`
	MsgsPerSec float64        `json:"msgs_per_sec"`
	MBPerSec   float64        `json:"mb_per_sec"`
	LatencyUs  *latencies     `json:"latency_us,omitempty"`
	Client     udpClientStats `json:"client"`
	benchErrors
}

// udpClientStats are the load generator's own engine counters: loss the
// client caused (its queue full, its receive buffers overflowing) is not
// the server's.
type udpClientStats struct {
	DatagramsOut uint64 `json:"datagrams_out"`
	DatagramsIn  uint64 `json:"datagrams_in"`
	QueueDrops   uint64 `json:"queue_drops"`
	RcvbufDrops  uint64 `json:"rcvbuf_drops"`
	SendErrors   uint64 `json:"send_errors"`
	SendWaits    uint64 `json:"send_waits"`
	// GSO says whether the client may send with GSO (-udp-gso), GSOSends
	// how many of its sends carried more than one datagram.
	GSO      bool   `json:"gso"`
	GSOSends uint64 `json:"gso_sends"`
}

func clientPacketStats(st engine.Stats) udpClientStats {
	var c udpClientStats
	for _, s := range st.Shards {
		p := s.Packets
		c.DatagramsOut += p.DatagramsOut
		c.DatagramsIn += p.DatagramsIn
		c.QueueDrops += p.QueueDrops
		c.RcvbufDrops += p.RcvbufDrops
		c.SendErrors += p.SendErrors
		c.SendWaits += p.SendWaits
		c.GSOSends += p.GSOSends
	}
	return c
}

// udpResult: the rates count what arrived while the load ran (atEnd), the
// loss what never arrived by the end of the drain (c).
func (r *udpBenchRun) udpResult(atEnd, c udpCounts, elapsed time.Duration, h *hdrhistogram.Histogram) udpBenchResult {
	cfg := r.cfg
	secs := elapsed.Seconds()
	res := udpBenchResult{
		Mode: "udp-echo", Addr: r.peer.String(), Flows: cfg.conns, Size: cfg.size, Rate: cfg.rate,
		Seconds: secs, Sent: c.sent, Received: c.recv, Reordered: c.reordered, Duplicated: c.dups, TooOld: c.tooOld,
		SentPerSec: float64(atEnd.sent) / secs,
		MsgsPerSec: float64(atEnd.recv) / secs,
		MBPerSec:   float64(atEnd.recv) * float64(cfg.size) / secs / 1e6,
	}
	if cfg.rate == 0 {
		res.Pipeline = cfg.pipeline
	}
	if c.sent > c.recv {
		res.Lost = c.sent - c.recv
	}
	if c.sent > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(c.sent)
	}
	if h.TotalCount() > 0 {
		us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
		res.LatencyUs = &latencies{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9), Max: float64(h.Max()) / 1e3}
	}
	return res
}

func (res *udpBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "datagrams sent %d (%.0f/s), echoed %d in %.2fs: %.0f datagrams/s, %.2f MB/s\n",
		res.Sent, res.SentPerSec, res.Received, res.Seconds, res.MsgsPerSec, res.MBPerSec)
	fmt.Fprintf(w, "loss      %d (%.3f%%)  reordered %d  duplicated %d  too old %d\n",
		res.Lost, res.LossPct, res.Reordered, res.Duplicated, res.TooOld)
	c := res.Client
	fmt.Fprintf(w, "client    out %d  in %d  queue drops %d  rcvbuf drops %d  send errors %d  send waits %d  gso %v (sends %d)\n",
		c.DatagramsOut, c.DatagramsIn, c.QueueDrops, c.RcvbufDrops, c.SendErrors, c.SendWaits, c.GSO, c.GSOSends)
	res.LatencyUs.print(w)
	res.benchErrors.print(w)
}

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The UDP suites (issue 20): a datagram echo server pinned to CPU 0 with
// GOMAXPROCS=1 and one loop, `shardnet bench -udp` pinned to CPU 1 with
// one shard. The servers: Go's net (one net.UDPConn, one goroutine,
// ReadFromUDPAddrPort/WriteToUDPAddrPort), gnet v2's and nbio's UDP (the
// peers' -mode udp), `shardnet udp-echo -shards 1` (recvmmsg, sendmmsg,
// GSO and GRO as it ships), and, when gcc is there, the C server's UDP
// mode (c/udp.c: recvmmsg and sendmmsg with nothing around them), the
// floor of the interface that the "÷ C" column reads against.
//
//   - udp: closed loop at saturation: every flow (a connected socket of
//     the client) keeps -pipeline datagrams in flight and sends one more
//     per echo; the rate is the echoes verified per second.
//   - udp-rate: the same flows open loop at a fixed rate (a fraction of the
//     slowest server's saturated rate in this run), where the server's CPU
//     per datagram (its process and its core) tells the servers apart.
//
// By default the client sends every datagram as a packet of its own
// (bench -udp-gso=false), as 100 ordinary UDP senders would: the server
// meets one packet per datagram. The cells named "… gso" let the client
// send each flow's runs with GSO (as QUIC stacks do), which a server with
// UDP_GRO receives as one packet per run and any other server as
// datagrams the kernel split for it.

// udpPeers are the servers of the UDP suites; main adds the extra builds
// that have a shardnet CLI (their udp-echo). udpGoPeers are the Go peers
// that issue 20's targets compare with.
var (
	udpPeers   = []string{"net", "gnet", "nbio", "shardnet"}
	udpGoPeers = []string{"net", "gnet", "nbio"}
)

// udpSpec is one `shardnet bench -udp` load.
type udpSpec struct {
	flows, size, pipeline, rate int
	clientGSO                   bool
	// train is bench -udp-train at a fixed rate: datagrams sent on one
	// flow before the next (1: round robin).
	train int
}

// udpCells are the UDP suites' cells: 64 B and 1,200 B datagrams from 100
// flows × 16 in flight and from 1 flow × 1 in flight, each followed by its
// fixed-rate cells; then the 100 × 16 cells with the client's GSO. The
// fixed rate of a 100 × 16 cell runs twice: spread (one datagram per flow
// in turn, so datagrams arrive one by one) and "in trains of 16" (each
// flow sends its window of 16 at once, then the next flow), the shape of
// the saturated load at a lower rate.
func (d *driver) udpCells() []Cell {
	var cs []Cell
	add := func(flows, pipeline, size int, gso bool) {
		name := fmt.Sprintf("c%d %s x%d", flows, sizeName(size), pipeline)
		if gso {
			name += " gso"
		}
		spec := udpSpec{flows: flows, size: size, pipeline: pipeline, clientGSO: gso}
		sat := func(d *driver, s Sample) Sample { return d.runUDP(s, spec) }
		cs = append(cs, d.rateCellsOf("udp", name, udpPeers, sat,
			func(d *driver, s Sample) Sample {
				rs := spec
				rs.rate = int(s.Offered)
				return d.runUDP(s, rs)
			})...)
		if pipeline == 1 {
			return
		}
		for _, f := range d.fractions {
			rc := Cell{Suite: "udp-rate", Name: fmt.Sprintf("%s in trains of %d", rateCellName(name, f), pipeline), Peers: udpPeers}
			rc.Run = func(d *driver, p string, r int) []Sample {
				s := newSample(rc.Suite, rc.Name, p, r)
				s.Offered = d.offeredRate("udp", name, f, d.running, func(p string) Sample { return sat(d, newSample("udp", name, p, 0)) })
				if s.Offered <= 0 {
					s.Errors, s.Note = 1, "no saturated rate to start from"
					return []Sample{s}
				}
				rs := spec
				rs.rate, rs.train = int(s.Offered), pipeline
				return []Sample{d.runUDP(s, rs)}
			}
			cs = append(cs, rc)
		}
	}
	for _, fp := range [][2]int{{100, 16}, {1, 1}} {
		for _, size := range []int{64, 1200} {
			add(fp[0], fp[1], size, false)
		}
	}
	for _, size := range []int{64, 1200} {
		add(100, 16, size, true)
	}
	return cs
}

// udpJSON is the part of `shardnet bench -udp -json` the driver reads.
type udpJSON struct {
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	Lost       uint64  `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	LatencyUs  *struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"latency_us"`
	Client struct {
		RcvbufDrops uint64 `json:"rcvbuf_drops"`
		QueueDrops  uint64 `json:"queue_drops"`
		GSOSends    uint64 `json:"gso_sends"`
	} `json:"client"`
	Errors        int      `json:"errors"`
	Mismatch      bool     `json:"mismatch"`
	ErrorMessages []string `json:"error_messages"`
}

// startUDPServer starts a peer's UDP echo server pinned to the server's
// core and waits until it echoes a probe.
func (d *driver) startUDPServer(peer, addr string) (*proc, error) {
	argv := []string{d.peerPath(peer), "-mode", "udp", "-addr", addr, "-loops", "1"}
	ready := "ready"
	if cli, extra := d.cliBin[peer]; peer == "shardnet" || extra {
		if !extra {
			cli = filepath.Join(d.bin, "shardnet")
		}
		argv = []string{cli, "udp-echo", "-addr", "udp://" + addr, "-shards", "1"}
		ready = "shardnet udp-echo listening"
	}
	p, err := start(peer, serverPin, argv)
	if err != nil {
		return nil, err
	}
	if _, err := p.waitLine(ready, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	if err := probeUDP(addr, 5*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w: %s", peer, err, lastLines(p.output(), 3))
	}
	return p, nil
}

// probeUDP sends a datagram to addr every 100 ms until it comes back
// unchanged, for at most d.
func probeUDP(addr string, d time.Duration) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	probe := []byte("shardnet bench probe")
	buf := make([]byte, 64)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := c.Write(probe); err != nil {
			time.Sleep(100 * time.Millisecond) // ECONNREFUSED from an earlier probe: not bound yet
			continue
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) == string(probe) {
			return nil
		}
	}
	return fmt.Errorf("no echo from %s within %v", addr, d)
}

// runUDP runs one UDP cell for one peer: the server, then bench -udp
// against it, the window sampled as in the echo suites. The shardnet
// command does not report its mallocs (TestPacketEchoZeroAllocs counts
// them); the Go peers do, on SIGUSR1.
func (d *driver) runUDP(s Sample, spec udpSpec) Sample {
	addr := d.nextAddr()
	srv, err := d.startUDPServer(s.Peer, addr)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	defer srv.stop()
	argv := []string{filepath.Join(d.bin, "shardnet"), "bench", "-udp", "-addr", addr,
		"-c", strconv.Itoa(spec.flows), "-size", strconv.Itoa(spec.size), "-pipeline", strconv.Itoa(spec.pipeline),
		"-duration", d.duration.String(), "-shards", "1", "-udp-drain", "500ms",
		"-udp-gso=" + strconv.FormatBool(spec.clientGSO), "-json"}
	if spec.rate > 0 {
		argv = append(argv, "-rate", strconv.Itoa(spec.rate))
	}
	if spec.train > 1 {
		argv = append(argv, "-udp-train", strconv.Itoa(spec.train))
	}
	cl, err := start("bench", clientPin, argv)
	if err != nil {
		s.Errors, s.Note = 1, err.Error()
		return s
	}
	w, werr := d.sampleWindow(srv, cl, "bench:", 20*time.Second, s.Peer != "shardnet" && d.mallocsOf(s.Peer))
	cl.wait(d.duration + 30*time.Second)
	srv.stop()
	d.saveRaw(&s, "# client", cl.output(), "# server", srv.output(), w.describe())
	if werr != nil {
		s.Errors, s.Note = 1, werr.Error()
		return s
	}
	var res udpJSON
	if err := json.Unmarshal([]byte(jsonPart(cl.stdoutText())), &res); err != nil {
		s.Errors, s.Note = 1, "bench -udp output: "+err.Error()+": "+lastLines(cl.output(), 3)
		return s
	}
	s.Rate, s.Errors = res.MsgsPerSec, res.Errors
	if res.Mismatch {
		s.Errors++
		s.Note = "echo mismatch"
	}
	if len(res.ErrorMessages) > 0 {
		s.Note = strings.Join(res.ErrorMessages, "; ")
	}
	if res.LatencyUs != nil {
		s.P50us, s.P99us = res.LatencyUs.P50, res.LatencyUs.P99
	}
	s.fill(w, s.Rate, true)
	noteDelivery(&s)
	// Loss is not an error (datagrams may be lost), but a rate with much
	// of it is not the same load: say so.
	if res.LossPct >= 0.1 {
		note := fmt.Sprintf("loss %.2f%% (client rcvbuf drops %d)", res.LossPct, res.Client.RcvbufDrops)
		s.Note = strings.TrimPrefix(s.Note+"; "+note, "; ")
	}
	return s
}

// targets20Markdown compares shardnet with the targets of issue 20, by
// paired ratios against the best Go peer of each cell (the one with the
// best median of the figure compared): at 100 flows × 16 in flight,
// datagrams/s at least 1.5× and CPU per datagram at the fixed rate at most
// 0.67× (the core's busy time; the process's own time alongside); at
// 1 × 1, at least level on both. Every round's ratio is listed.
func targets20Markdown(samples []Sample, stats map[key]*stat, order map[string][]string) string {
	by, rounds := indexRounds(samples)
	t := newTargetTable("| target | cell | paired, median (min–max) | every round | verdict |\n|---|---|---|---|---|\n")
	best := func(suite, cell string, f func(*stat) float64, lowest bool) string {
		name, bv := "", 0.0
		for _, p := range udpGoPeers {
			st := stats[key{suite, cell, p}]
			if st == nil || st.n == 0 || f(st) <= 0 {
				continue
			}
			if v := f(st); name == "" || (lowest && v < bv) || (!lowest && v > bv) {
				name, bv = p, v
			}
		}
		return name
	}
	perRound := func(r ratios) string {
		parts := make([]string, len(r))
		for i, v := range r {
			parts[i] = fmt.Sprintf("%.2f", v)
		}
		return strings.Join(parts, ", ")
	}
	row := func(target, cell string, m metric, suite, peer string, ok func(float64) bool) {
		r := pairedRatios(by, suite, cell, pair{subject, peer}, m, rounds[suite])
		if len(r) == 0 {
			return
		}
		t.add(target, cell, fmt.Sprintf("%s ÷ %s: %s", subject, peer, r), perRound(r), verdict(ok(median(r))))
	}
	for _, c := range order["udp"] {
		want := 1.0
		if strings.HasPrefix(c, "c100 ") {
			want = 1.5
		}
		if g := best("udp", c, func(s *stat) float64 { return s.rate }, false); g != "" {
			row(fmt.Sprintf("datagrams/s ≥ %.1f× best Go peer", want), c, mRate, "udp", g, func(v float64) bool { return v >= want })
		}
	}
	for _, c := range order["udp-rate"] {
		want := 1.0
		if strings.HasPrefix(c, "c100 ") {
			want = 0.67
		}
		for _, m := range []metric{mCoreCPU, mCPU} {
			f := func(s *stat) float64 { return s.coreNs }
			if m.name == mCPU.name {
				f = func(s *stat) float64 { return s.cpuNs }
			}
			if g := best("udp-rate", c, f, true); g != "" {
				row(fmt.Sprintf("%s ≤ %.2f× best Go peer", m.name, want), c, m, "udp-rate", g, func(v float64) bool { return v <= want })
			}
		}
	}
	return t.String()
}

// isUDPSuite says whether a suite is one of the UDP suites.
func isUDPSuite(suite string) bool { return slices.Contains([]string{"udp", "udp-rate"}, suite) }

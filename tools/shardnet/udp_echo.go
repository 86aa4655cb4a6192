//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// defaultUDPAddr is what udp-echo serves without -addr.
const defaultUDPAddr = "udp://127.0.0.1:7001"

// udpEcho writes every datagram back to its sender; with sessions on, it
// answers through the sender's session.
type udpEcho struct{}

func (udpEcho) OnDatagram(pc *engine.PacketConn, p []byte, from netip.AddrPort) {
	if s := pc.Session(); s != nil {
		_ = s.Write(p)
		return
	}
	_ = pc.WriteTo(p, from)
}

func runUDPEcho(args []string, stdout, stderr io.Writer) int {
	var (
		addrs    addrList
		shards   int
		sessions int
		idle     time.Duration
		gso, gro bool
		stats    time.Duration
		busyPoll time.Duration
		verbose  bool
		metrAddr string
		bufs     socketBuffers
	)
	fs := newFlagSet("udp-echo", "UDP echo server: every datagram is sent back to its sender, in batches (recvmmsg/sendmmsg), with GSO and GRO where the kernel has them.", `  shardnet udp-echo                                   # 127.0.0.1:7001, GOMAXPROCS shards
  shardnet udp-echo -addr udp://0.0.0.0:7001          # every IPv4 address; replies leave from the address asked
  shardnet udp-echo -addr udp6://[::1]:7001 -shards 1
  shardnet udp-echo -sessions 10000 -idle 30s -stats 1s
  shardnet udp-echo -rcvbuf 4194304                   # ride out bursts (see net.core.rmem_max)
  echo hello | nc -u -q1 127.0.0.1 7001               # try it
`, stderr)
	fs.Var(&addrs, "addr", "address to serve, repeatable or comma-separated: udp://, udp4://, udp6:// or host:port (default "+defaultUDPAddr+")")
	fs.IntVar(&shards, "shards", 0, "number of shards, each with its own SO_REUSEPORT socket (default GOMAXPROCS)")
	fs.IntVar(&sessions, "sessions", 0, "keep per-peer sessions, at most this many per shard; new peers past it are refused and counted (0: off)")
	fs.DurationVar(&idle, "idle", 30*time.Second, "with -sessions: end a session after this long without a datagram from its peer")
	fs.BoolVar(&gso, "gso", true, "send runs of same-size datagrams to one peer with UDP segmentation offload, where the kernel has it")
	fs.BoolVar(&gro, "gro", true, "let the kernel coalesce received datagrams (UDP GRO), where it has it")
	fs.DurationVar(&busyPoll, "busy-poll", 0, "keep each shard polling this long after its last datagram before it sleeps (engine.WithBusyPoll; 0: off): fewer wake-ups, more CPU while idle")
	fs.DurationVar(&stats, "stats", 0, "print per-shard datagram counters this often (0: only at exit)")
	bufs.register(fs, "each socket")
	fs.BoolVar(&verbose, "v", false, "log engine warnings and errors to stderr")
	fs.StringVar(&metrAddr, "metrics", "", metricsFlagHelp)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if len(addrs) == 0 {
		addrs = addrList{defaultUDPAddr}
	}
	opts := []engine.Option{engine.WithPacketOffload(gso, gro), engine.WithBusyPoll(busyPoll), bufs.option()}
	wait, err := waitOptions()
	if err != nil {
		fmt.Fprintf(stderr, "shardnet udp-echo: %v\n", err)
		return 2
	}
	opts = append(opts, wait...)
	if shards > 0 {
		opts = append(opts, engine.WithShards(shards))
	}
	if verbose {
		opts = append(opts, engine.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	var popts []engine.PacketOption
	if sessions > 0 {
		popts = append(popts, engine.WithSessions(idle, sessions))
	}
	opts = append(opts, udpMetricsOptions(metrAddr)...)
	e, err := engine.New(engine.BaseHandler{}, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet udp-echo: %v\n", err)
		return 2
	}
	var bound []string
	for _, a := range addrs {
		l, err := e.ListenPacket(a, udpEcho{}, popts...)
		if err != nil {
			fmt.Fprintf(stderr, "shardnet udp-echo: %v\n", err)
			e.Stop(context.Background())
			return 1
		}
		bound = append(bound, "udp://"+l.Addr().String())
		if len(bound) == 1 {
			pc := l.Conns()[0]
			defer fmt.Fprintf(stdout, "offload: gso=%v gro=%v\n", pc.GSO(), pc.GRO())
		}
	}
	fmt.Fprintf(stdout, "shardnet udp-echo listening on %s shards=%d sessions=%d\n", strings.Join(bound, ","), e.Shards(), sessions)
	return runUDPServer("udp-echo", metrAddr, e, stats, func() { printUDPStats(stdout, e.Stats()) }, stdout, stderr)
}

func printUDPStats(w io.Writer, st engine.Stats) {
	var total engine.PacketStats
	for _, s := range st.Shards {
		p := s.Packets
		fmt.Fprintf(w, "shard %d: in=%d out=%d bytes-in=%d bytes-out=%d gso-sends=%d gro-batches=%d sessions=%d\n",
			s.Shard, p.DatagramsIn, p.DatagramsOut, p.BytesIn, p.BytesOut, p.GSOSends, p.GROBatches, p.Sessions)
		total.DatagramsIn += p.DatagramsIn
		total.DatagramsOut += p.DatagramsOut
		total.QueueDrops += p.QueueDrops
		total.RcvbufDrops += p.RcvbufDrops
		total.Truncated += p.Truncated
		total.SendErrors += p.SendErrors
		total.SessionsOpened += p.SessionsOpened
		total.SessionsExpired += p.SessionsExpired
		total.SessionsRefused += p.SessionsRefused
	}
	fmt.Fprintf(w, "total: in=%d out=%d queue-drops=%d rcvbuf-drops=%d truncated=%d send-errors=%d sessions-opened=%d expired=%d refused=%d\n",
		total.DatagramsIn, total.DatagramsOut, total.QueueDrops, total.RcvbufDrops, total.Truncated, total.SendErrors,
		total.SessionsOpened, total.SessionsExpired, total.SessionsRefused)
}

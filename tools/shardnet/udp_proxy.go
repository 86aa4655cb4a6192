//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/engine"
	"golang.org/x/sys/unix"
)

// The UDP proxy keeps a session per client (WithSessions on the listening
// sockets) and gives each session its own connected backend socket
// (DialPacket), opened on the client's shard: the client's datagrams go
// out of that socket, and what the backend answers on it goes back to that
// client from the address the client sent to. A session ends after -idle
// without a datagram from its client (the shard's timer heap) and closes
// its backend socket with it.

// defaultUDPProxyAddr is where udp-proxy listens without -listen.
const defaultUDPProxyAddr = "udp://127.0.0.1:8001"

// udpProxyFdReserve is the file descriptors kept out of the session
// budget: standard streams, the epoll and wake-up fds of each shard, the
// listening sockets, and slack for the runtime and logging.
const udpProxyFdReserve = 64

// udpProxy is the handler of the listening sockets and, per session, of
// the backend socket (udpBackend).
type udpProxy struct {
	e        *engine.Engine
	backends []string
	next     []uint32 // per shard: round-robin position over backends; loop only
	shards   []udpProxyCounters
}

// udpProxyCounters are one shard's relay counters: written on the shard,
// read by the stats printer.
type udpProxyCounters struct {
	toBackend, toClient         atomic.Uint64 // datagrams queued for the other side (a queued one can still be dropped: see drops)
	writeErrors                 atomic.Uint64 // not queued, for a reason other than a full queue
	backendErrors, dialFailures atomic.Uint64 // errors on backend sockets; sessions refused for want of one
	lateReplies                 atomic.Uint64 // backend datagrams after their session ended
	_                           [64]byte      // keep shards' counters on separate cache lines
}

// udpBackend is one session's backend socket.
type udpBackend struct {
	p    *udpProxy
	sess *engine.Session
	pc   *engine.PacketConn
}

// OnSessionOpen gives the new client a backend socket on its shard; if
// none can be opened (the fd limit, an unreachable backend) the client is
// refused and its datagram dropped, counted by the engine as refused.
func (p *udpProxy) OnSessionOpen(s *engine.Session) error {
	i := s.Conn().Shard()
	backend := p.backends[p.next[i]%uint32(len(p.backends))]
	p.next[i]++
	b := &udpBackend{p: p, sess: s}
	pc, err := p.e.DialPacket(backend, b, engine.OnPacketShard(i))
	if err != nil {
		p.shards[i].dialFailures.Add(1)
		return fmt.Errorf("udp-proxy: backend socket for %s: %w", s.Peer(), err)
	}
	b.pc = pc
	s.SetContext(b)
	return nil
}

// OnSessionClose closes the session's backend socket: expired, closed, or
// the engine stopping.
func (p *udpProxy) OnSessionClose(s *engine.Session, _ error) {
	if b, ok := s.Context().(*udpBackend); ok {
		b.sess = nil
		_ = b.pc.Close()
	}
}

// OnDatagram relays a client's datagram to its backend.
func (p *udpProxy) OnDatagram(pc *engine.PacketConn, d []byte, _ netip.AddrPort) {
	b := pc.Session().Context().(*udpBackend)
	p.count(pc.Shard(), b.pc.Write(d), &p.shards[pc.Shard()].toBackend)
}

// OnDatagram relays a backend's datagram to the session's client.
func (b *udpBackend) OnDatagram(pc *engine.PacketConn, d []byte, _ netip.AddrPort) {
	c := &b.p.shards[pc.Shard()]
	if b.sess == nil || b.sess.Closed() {
		c.lateReplies.Add(1)
		return
	}
	b.p.count(pc.Shard(), b.sess.Write(d), &c.toClient)
}

// OnPacketError counts what the kernel reports on a backend socket (a
// backend port that refuses: ECONNREFUSED).
func (b *udpBackend) OnPacketError(pc *engine.PacketConn, _ error) {
	b.p.shards[pc.Shard()].backendErrors.Add(1)
}

// count records a relay: ok counts it; ErrOutputFull is counted by the
// engine already (QueueDrops); any other error is a write error.
func (p *udpProxy) count(shard int, err error, ok *atomic.Uint64) {
	switch {
	case err == nil:
		ok.Add(1)
	case errors.Is(err, engine.ErrOutputFull):
	default:
		p.shards[shard].writeErrors.Add(1)
	}
}

// udpSessionCap is the sessions per shard that the fd limit allows: each
// session holds one backend socket, and a listener has one socket per
// shard, each with its own cap, so the cap is the fds left after the
// reserve, divided by the shards. asked (0: as many as fit) is lowered to
// it.
func udpSessionCap(asked, shards int, nofile uint64) (perShard int, err error) {
	budget := int64(nofile) - udpProxyFdReserve - 4*int64(shards)
	if budget < int64(shards) {
		return 0, fmt.Errorf("the fd limit %d leaves no room for sessions on %d shards", nofile, shards)
	}
	fit := int(budget / int64(shards))
	if asked <= 0 || asked > fit {
		return fit, nil
	}
	return asked, nil
}

func runUDPProxy(args []string, stdout, stderr io.Writer) int {
	var (
		listen   addrList
		backends addrList
		shards   int
		sessions int
		idle     time.Duration
		stats    time.Duration
		verbose  bool
		metrAddr string
		bufs     socketBuffers
	)
	fs := newFlagSet("udp-proxy", "UDP proxy: each client (source address and port) gets a session and its own\nconnected backend socket on its shard; datagrams are relayed both ways in\nbatches. A session ends after -idle without a datagram from its client. The\nsessions per shard are capped below the process's fd limit; new clients past\nthe cap are refused (their datagrams dropped and counted), existing ones keep\ntheir sessions. SIGINT or SIGTERM stops it and prints the counters.", `  shardnet udp-proxy -backend 127.0.0.1:7001          # listen on udp://127.0.0.1:8001
  shardnet udp-proxy -listen udp://0.0.0.0:53 -backend 10.0.0.2:53,10.0.0.3:53 -idle 5s   # DNS, round robin per client
  shardnet udp-proxy -backend 127.0.0.1:5202 -listen udp://127.0.0.1:5201 -stats 1s
  shardnet udp-proxy -backend 127.0.0.1:7001 -rcvbuf 4194304   # ride out bursts (see net.core.rmem_max)
  echo hi | nc -u -w1 127.0.0.1 8001                  # try it (with udp-echo at 7001)
`, stderr)
	fs.Var(&listen, "listen", "address clients send to: udp://, udp4://, udp6:// or host:port (default "+defaultUDPProxyAddr+")")
	fs.Var(&backends, "backend", "backend address(es), numeric ip:port, repeatable or comma-separated; new sessions take them in turn (required)")
	fs.IntVar(&shards, "shards", 0, "number of shards (default GOMAXPROCS)")
	fs.IntVar(&sessions, "sessions", 0, "sessions per shard at most (0: as many as the fd limit allows; a larger value is lowered to that)")
	fs.DurationVar(&idle, "idle", 30*time.Second, "end a session after this long without a datagram from its client")
	fs.DurationVar(&stats, "stats", 0, "print the counters this often (0: only at exit)")
	fs.BoolVar(&verbose, "v", false, "log engine warnings and errors to stderr")
	fs.StringVar(&metrAddr, "metrics", "", metricsFlagHelp)
	bufs.register(fs, "each socket, the listening ones and every session's backend socket")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if len(backends) == 0 {
		fmt.Fprintln(stderr, "shardnet udp-proxy: -backend is required")
		fs.Usage()
		return 2
	}
	for i, b := range backends {
		a := b
		if _, rest, ok := strings.Cut(b, "://"); ok {
			a = rest
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			fmt.Fprintf(stderr, "shardnet udp-proxy: -backend %q: want a numeric ip:port: %v\n", b, err)
			return 2
		}
		backends[i] = ap.String()
	}
	if len(listen) != 1 {
		if len(listen) > 1 {
			fmt.Fprintln(stderr, "shardnet udp-proxy: one -listen address")
			return 2
		}
		listen = addrList{defaultUDPProxyAddr}
	}
	if idle <= 0 {
		fmt.Fprintf(stderr, "shardnet udp-proxy: -idle %v: want > 0\n", idle)
		return 2
	}
	opts := []engine.Option{bufs.option()}
	if shards > 0 {
		opts = append(opts, engine.WithShards(shards))
	}
	if verbose {
		opts = append(opts, engine.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	opts = append(opts, udpMetricsOptions(metrAddr)...)
	e, err := engine.New(engine.BaseHandler{}, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet udp-proxy: %v\n", err)
		return 2
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintf(stderr, "shardnet udp-proxy: RLIMIT_NOFILE: %v\n", err)
		return 1
	}
	perShard, err := udpSessionCap(sessions, e.Shards(), lim.Cur)
	if err != nil {
		fmt.Fprintf(stderr, "shardnet udp-proxy: %v\n", err)
		return 1
	}
	p := &udpProxy{e: e, backends: backends, next: make([]uint32, e.Shards()), shards: make([]udpProxyCounters, e.Shards())}
	l, err := e.ListenPacket(listen[0], p, engine.WithSessions(idle, perShard))
	if err != nil {
		fmt.Fprintf(stderr, "shardnet udp-proxy: %v\n", err)
		e.Stop(context.Background())
		return 1
	}
	fmt.Fprintf(stdout, "shardnet udp-proxy listening on udp://%s backends=%s shards=%d sessions=%d per shard (fd limit %d, %d kept back) idle=%v\n",
		l.Addr(), strings.Join(backends, ","), e.Shards(), perShard, lim.Cur, udpProxyFdReserve+4*e.Shards(), idle)
	return runUDPServer("udp-proxy", metrAddr, e, stats, func() { p.printStats(stdout) }, stdout, stderr)
}

// udpProxyTotals are the proxy's counters summed over the shards, with the
// engine's for all its sockets (listening and backend).
type udpProxyTotals struct {
	toBackend, toClient, writeErrors, backendErrors, dialFailures, lateReplies uint64
	engine.PacketStats
}

// drops are the datagrams the proxy took in and did not pass on: full
// queues, sends the kernel refused, clients refused a session, truncated
// datagrams, other write errors and replies after the session ended. A
// datagram queued (counted as relayed) and then dropped, because its
// socket closed before the kernel took it or the kernel refused it, is in
// both counts. Kernel receive-buffer drops (RcvbufDrops) are separate: those never
// reached the proxy.
func (t *udpProxyTotals) drops() uint64 {
	return t.QueueDrops + t.SendErrors + t.SessionsRefused + t.Truncated + t.writeErrors + t.lateReplies
}

func (p *udpProxy) totals() udpProxyTotals {
	var t udpProxyTotals
	for i := range p.shards {
		c := &p.shards[i]
		t.toBackend += c.toBackend.Load()
		t.toClient += c.toClient.Load()
		t.writeErrors += c.writeErrors.Load()
		t.backendErrors += c.backendErrors.Load()
		t.dialFailures += c.dialFailures.Load()
		t.lateReplies += c.lateReplies.Load()
	}
	for _, s := range p.e.Stats().Shards {
		q := s.Packets
		t.DatagramsIn += q.DatagramsIn
		t.DatagramsOut += q.DatagramsOut
		t.QueueDrops += q.QueueDrops
		t.SendErrors += q.SendErrors
		t.RcvbufDrops += q.RcvbufDrops
		t.Truncated += q.Truncated
		t.Sessions += q.Sessions
		t.SessionsOpened += q.SessionsOpened
		t.SessionsExpired += q.SessionsExpired
		t.SessionsRefused += q.SessionsRefused
	}
	return t
}

func (p *udpProxy) printStats(w io.Writer) {
	t := p.totals()
	fmt.Fprintf(w, "udp-proxy: sessions=%d opened=%d expired=%d refused=%d dial-failures=%d relayed: to-backend=%d to-client=%d\n",
		t.Sessions, t.SessionsOpened, t.SessionsExpired, t.SessionsRefused, t.dialFailures, t.toBackend, t.toClient)
	fmt.Fprintf(w, "udp-proxy: drops=%d (queue=%d send-errors=%d refused=%d truncated=%d write-errors=%d late-replies=%d) rcvbuf-drops=%d backend-errors=%d datagrams-in=%d datagrams-out=%d\n",
		t.drops(), t.QueueDrops, t.SendErrors, t.SessionsRefused, t.Truncated, t.writeErrors, t.lateReplies,
		t.RcvbufDrops, t.backendErrors, t.DatagramsIn, t.DatagramsOut)
}

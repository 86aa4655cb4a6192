package engine

import (
	"crypto/tls"
	"log/slog"
	"runtime"
	"time"

	"github.com/shardnet/shardnet/balancer"
)

// Option configures an Engine in New.
type Option func(*config)

// config holds an engine's settings. defaultConfig states every default;
// validate checks them once, in New.
type config struct {
	shards         int               // number of shard loops; default GOMAXPROCS
	pin            bool              // pin shard i's thread to CPU i of the allowed set
	balancer       balancer.Balancer // shard choice for accepted and dialed connections
	reusePort      bool              // one SO_REUSEPORT listener per shard, no hand-off
	noDelay        bool              // TCP_NODELAY on TCP connections
	keepAlive      time.Duration     // TCP keep-alive idle time; 0 off
	userTimeout    time.Duration     // TCP_USER_TIMEOUT; 0 off
	sndBuf         int               // SO_SNDBUF; 0 leaves the kernel's
	rcvBuf         int               // SO_RCVBUF; 0 leaves the kernel's
	readBuf        int               // the shard's shared read buffer
	readBudget     int               // bytes read from one connection per readiness report
	maxInbound     int               // cap on unread bytes kept per connection
	lowWater       int               // resume reading under this much queued output
	highWater      int               // pause reading over this much queued output
	waterMode      WaterMode         // what crossing lowWater/highWater does (WithWaterMode)
	maxQueued      int               // refuse writes past this much queued output
	idleTimeout    time.Duration     // close after this long without traffic; 0 off
	lingerTimeout  time.Duration     // how long Close waits for the peer's EOF
	maxConns       int               // total live connections; 0 unlimited
	edge           bool              // edge-triggered connections
	busyPoll       time.Duration     // shards poll without sleeping this long after the last ready fd
	runtimeWait    bool              // idle shards park in the runtime's poller (WithRuntimeWait)
	tick           time.Duration     // period of Handler.OnTick; 0 off
	lagSample      time.Duration     // period of the loop-lag samples; 0 off
	heartbeat      time.Duration     // period of the heartbeat hook; 0 off
	onHeartbeat    func(c *Conn)     // the heartbeat hook
	workers        int               // offload pool size
	workQueue      int               // offload queue length
	blockSize      int               // outbound chain block size
	logger         *slog.Logger      // quiet by default
	maxHandshakes  int               // TLS handshakes running at once (goroutines); past it new ones are refused
	handshakeTime  time.Duration     // a TLS handshake must finish this long after the connection opened
	handshakeCPU   int               // TLS handshakes computing at once (tls_cpu.go)
	handshakeShare float64           // share of the CPU TLS handshakes may compute for (tls_cpu.go)

	udpGSO         bool // UDP segmentation offload on send, where the kernel has it
	udpGRO         bool // UDP receive offload, where the kernel has it
	packetSlots    int  // datagrams per recvmmsg / sendmmsg batch
	packetSlotSize int  // bytes per receive slot: the largest datagram taken whole
	packetQueue    int  // bound on a UDP socket's queued output
}

func defaultConfig() config {
	return config{
		shards:         runtime.GOMAXPROCS(0),
		balancer:       balancer.RoundRobin(),
		noDelay:        true,
		readBuf:        64 << 10,
		readBudget:     256 << 10,
		maxInbound:     64 << 20,
		lowWater:       256 << 10,
		highWater:      1 << 20,
		maxQueued:      64 << 20,
		lingerTimeout:  5 * time.Second,
		workers:        runtime.GOMAXPROCS(0) * 4,
		workQueue:      4096,
		blockSize:      8 << 10,
		logger:         slog.New(slog.DiscardHandler),
		maxHandshakes:  4096,
		handshakeTime:  5 * time.Second,
		handshakeCPU:   defaultHandshakeCPU(runtime.GOMAXPROCS(0)),
		handshakeShare: 1,

		udpGSO:         true,
		udpGRO:         true,
		packetSlots:    32,
		packetSlotSize: 64 << 10,
		packetQueue:    1 << 20,
	}
}

func (c *config) validate() error {
	switch {
	case c.shards < 1 || c.shards > 1<<16:
		return optionError("WithShards", c.shards, "1..65536")
	case c.balancer == nil:
		return optionError("WithBalancer", nil, "a balancer")
	case c.keepAlive < 0:
		return optionError("WithKeepAlive", c.keepAlive, ">= 0")
	case c.userTimeout < 0:
		return optionError("WithUserTimeout", c.userTimeout, ">= 0")
	case c.sndBuf < 0 || c.rcvBuf < 0:
		return optionError("WithSocketBuffers", [2]int{c.sndBuf, c.rcvBuf}, ">= 0")
	case c.readBuf < 512:
		return optionError("WithReadBufferSize", c.readBuf, ">= 512")
	case c.readBudget < c.readBuf:
		return optionError("WithReadBudget", c.readBudget, ">= the read buffer size")
	case c.maxInbound < c.readBuf:
		return optionError("WithMaxInbound", c.maxInbound, ">= the read buffer size")
	case c.lowWater < 0 || c.highWater < c.lowWater:
		return optionError("WithWatermarks", [2]int{c.lowWater, c.highWater}, "0 <= low <= high")
	case c.waterMode > WaterNotify:
		return optionError("WithWaterMode", c.waterMode, "WaterPause or WaterNotify")
	case c.maxQueued < c.highWater:
		return optionError("WithMaxQueuedOutput", c.maxQueued, ">= the high watermark")
	case c.idleTimeout < 0:
		return optionError("WithIdleTimeout", c.idleTimeout, ">= 0")
	case c.lingerTimeout <= 0:
		return optionError("WithLingerTimeout", c.lingerTimeout, "> 0")
	case c.maxConns < 0:
		return optionError("WithMaxConns", c.maxConns, ">= 0")
	case c.tick < 0:
		return optionError("WithTick", c.tick, ">= 0")
	case c.lagSample != 0 && c.lagSample < time.Millisecond:
		return optionError("WithLagSampling", c.lagSample, "0 (off) or >= 1ms")
	case c.busyPoll < 0:
		return optionError("WithBusyPoll", c.busyPoll, ">= 0")
	case c.heartbeat < 0 || (c.heartbeat > 0 && c.onHeartbeat == nil):
		return optionError("WithHeartbeat", c.heartbeat, "a period >= 0 and a hook")
	case c.workers < 1 || c.workQueue < 1:
		return optionError("WithOffloadPool", [2]int{c.workers, c.workQueue}, "workers >= 1, queue >= 1")
	case c.blockSize < 256:
		return optionError("WithBlockSize", c.blockSize, ">= 256")
	case c.logger == nil:
		return optionError("WithLogger", nil, "a logger")
	case c.maxHandshakes < 1:
		return optionError("WithMaxHandshakes", c.maxHandshakes, ">= 1")
	case c.handshakeTime <= 0:
		return optionError("WithHandshakeTimeout", c.handshakeTime, "> 0")
	case c.handshakeCPU < 1:
		return optionError("WithHandshakeCPU", c.handshakeCPU, ">= 1")
	case !(c.handshakeShare > 0 && c.handshakeShare <= 1):
		return optionError("WithHandshakeShare", c.handshakeShare, "> 0 and <= 1")
	case c.packetSlots < 1 || c.packetSlots > 1024 || c.packetSlotSize < 512 || c.packetSlotSize > 64<<10:
		return optionError("WithPacketBatch", [2]int{c.packetSlots, c.packetSlotSize}, "1..1024 slots of 512..65536 bytes")
	case c.packetQueue < 64<<10:
		return optionError("WithPacketQueue", c.packetQueue, ">= 65536")
	}
	return nil
}

// WithShards sets the number of shard loops. Default runtime.GOMAXPROCS(0),
// which follows the process's CPU quota.
func WithShards(n int) Option { return func(c *config) { c.shards = n } }

// WithPinning pins shard i's OS thread to CPU i (modulo the count) of the
// process's allowed CPU set. Default off.
func WithPinning(on bool) Option { return func(c *config) { c.pin = on } }

// WithBalancer sets how accepted and dialed connections are spread over the
// shards. Default round-robin. It does not apply with WithReusePort, where
// the kernel spreads connections over the shards' listeners.
func WithBalancer(b balancer.Balancer) Option { return func(c *config) { c.balancer = b } }

// WithReusePort gives every shard its own SO_REUSEPORT listener for each
// TCP address, so the kernel balances and no acceptor hands fds over.
// Default off. Unix sockets always use the acceptor.
func WithReusePort(on bool) Option { return func(c *config) { c.reusePort = on } }

// WithNoDelay sets TCP_NODELAY on TCP connections. Default on.
func WithNoDelay(on bool) Option { return func(c *config) { c.noDelay = on } }

// WithKeepAlive turns on TCP keep-alive probes after d of idleness (0: off,
// the default).
func WithKeepAlive(d time.Duration) Option { return func(c *config) { c.keepAlive = d } }

// WithUserTimeout sets TCP_USER_TIMEOUT: a connection whose sent data stays
// unacknowledged for d is closed by the kernel, so a vanished peer is
// noticed even while we write. Default 0 (the kernel's).
func WithUserTimeout(d time.Duration) Option { return func(c *config) { c.userTimeout = d } }

// WithSocketBuffers sets SO_SNDBUF and SO_RCVBUF (0 keeps the kernel's
// default and its auto-tuning). Default 0, 0.
func WithSocketBuffers(snd, rcv int) Option {
	return func(c *config) { c.sndBuf, c.rcvBuf = snd, rcv }
}

// WithReadBufferSize sets the size of each shard's shared read buffer: the
// most one read(2) takes. Default 64 KiB.
func WithReadBufferSize(n int) Option { return func(c *config) { c.readBuf = n } }

// WithReadBudget caps the bytes read from one connection per readiness
// report in edge-triggered mode (WithEdgeTriggered), where the engine
// reads on until EAGAIN: past the budget it finishes the rest in a later
// round, so one flooding connection cannot starve the others on its shard.
// It must be at least the read buffer (WithReadBufferSize). In the default
// level-triggered mode it has no effect: there the engine reads once per
// readiness report (at most the read buffer), and epoll reports a
// connection with bytes left again in the next round, which bounds a
// flooding connection the same way. Default 256 KiB.
func WithReadBudget(n int) Option { return func(c *config) { c.readBudget = n } }

// WithMaxInbound caps the unread bytes kept for one connection; past it the
// connection is closed with ErrInboundFull. Default 64 MiB.
func WithMaxInbound(n int) Option { return func(c *config) { c.maxInbound = n } }

// WithWatermarks sets libevent's write watermarks on queued output, for
// every connection that does not set its own (Conn.SetWatermarks): above
// high the engine stops reading the connection, below low it reads again
// and calls OnDrained (WaterPause). Default 256 KiB and 1 MiB.
func WithWatermarks(low, high int) Option {
	return func(c *config) { c.lowWater, c.highWater = low, high }
}

// WithWaterMode sets what crossing WithWatermarks' marks does, for every
// connection that does not set marks of its own: WaterPause (the default)
// or WaterNotify. An engine whose connections all want notify mode (a
// relay's) chooses it here once: Conn.SetWatermarks would store marks in
// every connection, which costs an idle connection memory.
func WithWaterMode(m WaterMode) Option { return func(c *config) { c.waterMode = m } }

// WithMaxQueuedOutput caps a connection's queued output, counting bytes
// still in flight to its shard from AsyncWrite. Past it writes fail with
// ErrOutputFull instead of growing memory without bound. Default 64 MiB.
func WithMaxQueuedOutput(n int) Option { return func(c *config) { c.maxQueued = n } }

// WithIdleTimeout closes connections with no traffic either way for d
// (close reason satisfies errors.Is(err, ErrTimeout)); Conn.SetIdleTimeout
// overrides it per connection. Default 0: off.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idleTimeout = d } }

// WithLingerTimeout bounds a graceful Close from start to end: sending what
// is queued, then waiting for the peer's EOF after our own. A peer that
// does not read or does not close within it is cut off (close reason: a
// timeout); if output was still queued then, it gets a reset rather than
// a FIN, so it cannot take the cut stream for a whole one. Default 5 s.
func WithLingerTimeout(d time.Duration) Option { return func(c *config) { c.lingerTimeout = d } }

// WithMaxConns caps the engine's live connections; one accepted past it is
// closed at once and counted in Stats. Default 0: no cap.
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = n } }

// WithEdgeTriggered registers connections edge-triggered. Default off
// (level-triggered), which measured the same here and is simpler to reason
// about with read budgets.
func WithEdgeTriggered(on bool) Option { return func(c *config) { c.edge = on } }

// WithBusyPoll keeps each shard awake for d after its last ready
// connection instead of sleeping in epoll_wait at once, so the next bytes
// do not have to wake it (see shard.WithBusyPoll for what that saves and
// costs). For shards that have a core each. Default 0: off.
func WithBusyPoll(d time.Duration) Option { return func(c *config) { c.busyPoll = d } }

// WithLagSampling sets how often each shard samples its loop lag into
// ShardStats.LagSamples: a timer on the shard records how late it ran
// (see LagHistogram). A period of 50ms catches every stall longer than
// that and costs an idle shard 20 wake-ups a second, which is why it is
// off by default (0): turn it on where something reads the histogram
// (shardnet's -metrics and -debug do).
func WithLagSampling(period time.Duration) Option { return func(c *config) { c.lagSample = period } }

// WithTick calls Handler.OnTick on every shard every d. Default 0: off.
func WithTick(d time.Duration) Option { return func(c *config) { c.tick = d } }

// WithHeartbeat calls fn on every connection's shard every period while the
// connection is open, for protocol-level pings. Default off.
func WithHeartbeat(period time.Duration, fn func(c *Conn)) Option {
	return func(c *config) { c.heartbeat, c.onHeartbeat = period, fn }
}

// WithOffloadPool sizes the worker pool behind Offload: workers goroutines
// and a queue of queue functions. Default 4×GOMAXPROCS workers, 4096 queued.
func WithOffloadPool(workers, queue int) Option {
	return func(c *config) { c.workers, c.workQueue = workers, queue }
}

// WithBlockSize sets the size of the pooled blocks outbound bytes are
// copied into. Default 8 KiB.
func WithBlockSize(n int) Option { return func(c *config) { c.blockSize = n } }

// WithLogger sets where the engine logs (accept errors, recovered panics).
// Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithPacketOffload allows UDP segmentation offload on send (gso: a run of
// same-size datagrams to one peer leaves as one UDP_SEGMENT write) and on
// receive (gro: UDP_GRO, the kernel may hand over a coalesced run, which
// the engine splits). Each is probed per socket and used only where the
// kernel supports it; GSO turns itself off on the first error that says
// the route cannot do it. Default both allowed.
func WithPacketOffload(gso, gro bool) Option {
	return func(c *config) { c.udpGSO, c.udpGRO = gso, gro }
}

// WithPacketBatch sizes each shard's datagram batch: slots datagrams per
// recvmmsg and sendmmsg, and size bytes per receive slot. A datagram larger
// than size is cut by the kernel and dropped (counted in
// PacketStats.Truncated), never delivered cut; GRO hands over runs of up to
// 64 KiB, so with size under 65,536 it helps less. Memory: slots × size per
// shard, allocated with the shard's first UDP socket. Default 32 slots of
// 64 KiB (2 MiB per shard).
func WithPacketBatch(slots, size int) Option {
	return func(c *config) { c.packetSlots, c.packetSlotSize = slots, size }
}

// WithPacketQueue bounds the output a UDP socket holds while the kernel's
// send buffer is full, counting each datagram's bytes plus 64 for its
// entry. Past it WriteTo drops the datagram, counts it in
// PacketStats.QueueDrops and returns ErrOutputFull; AsyncWriteTo's bytes in
// flight to the shard are bounded by it too. Default 1 MiB.
func WithPacketQueue(bytes int) Option { return func(c *config) { c.packetQueue = bytes } }

// DialOption configures one Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	shard   int           // -1: the balancer's pick
	timeout time.Duration // connect timeout
	h       Handler       // nil: the engine's handler
	tls     *tls.Config   // nil: plaintext; see DialTLS
}

// OnShard puts the new connection on shard i, e.g. the shard of the client
// connection a proxy dials for, so both ends live on one thread.
func OnShard(i int) DialOption { return func(c *dialConfig) { c.shard = i } }

// DialTimeout bounds the connect. Default 10 s.
func DialTimeout(d time.Duration) DialOption { return func(c *dialConfig) { c.timeout = d } }

// DialHandler gives the new connection its own handler instead of the
// engine's (a proxy's upstream side, say).
func DialHandler(h Handler) DialOption { return func(c *dialConfig) { c.h = h } }

// WithRuntimeWait makes each idle shard wait in the Go runtime's network
// poller instead of blocking its thread in epoll_wait (see
// shard.WithRuntimeWait): no thread then sits in a system call while the
// shard is idle, so the runtime's sysmon stops retaking the shard's P and
// starting a spare thread each time it sleeps. That pays where a wake-up
// carries one message or a few: 0.65-0.9x the server CPU per message (RPC,
// spread-out UDP), 0.87-0.96x with two unpinned shards. It costs tail
// latency with several unpinned shards near saturation (p99 1.2-1.3x), 5%
// more CPU per request for net/http over engine/netconn at half load, and
// up to 7% per datagram in saturated UDP
// (benchmarks/results/wait-default). Default off; WithRuntimeWait(false)
// is the blocking wait, whatever the default.
func WithRuntimeWait(on bool) Option { return func(c *config) { c.runtimeWait = on } }

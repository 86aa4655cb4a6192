package relay

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// Router chooses the pool of a client from the first bytes it sent: a
// protocol sniffer, a router on a first line or a TLS server name. head is
// what has arrived so far (valid only during the call); it is not
// consumed, so the backend receives it, unless the Router consumes a
// prefix with c.Discard (a routing preamble meant for the proxy only).
// It returns ErrNeedMore to wait for more bytes, a nil Pool for the first
// pool given to New, or an error to close the client with it. It runs on
// the client's shard and must not block. eof says the client half-closed:
// no more bytes will come.
type Router func(c *engine.Conn, head []byte, eof bool) (*Pool, error)

// Done describes a pair that has ended, for WithOnDone.
type Done struct {
	Client    string        // the client's address
	Backend   string        // the backend's address; empty if none answered
	BytesUp   uint64        // relayed from the client to the backend
	BytesDown uint64        // relayed from the backend to the client
	Duration  time.Duration // from the client's OnOpen to the pair's end
	Err       error         // why it ended: the first close reason of the two
}

// Stats are a Proxy's counters. Any goroutine reads them with Stats.
type Stats struct {
	Active    int64  // pairs open now, from the client's OnOpen to both closes
	Clients   uint64 // clients accepted
	Relayed   uint64 // clients that got a backend
	NoBackend uint64 // clients closed because no backend answered
	Retries   uint64 // connects tried after a failed one, for the same client
	BytesUp   uint64 // relayed client -> backend (copied or spliced)
	BytesDown uint64 // relayed backend -> client
	Spliced   uint64 // of those, moved with splice(2)
}

// Proxy relays clients to backends. It is the engine.Handler of the
// engine that accepts the clients (make the engine with it and its
// EngineOptions); the backends' connections it dials on the same engine,
// with a handler of its own. Make it with New.
type Proxy struct {
	cfg      config
	eng      *engine.Engine
	up       upstreamSide
	check    checkSide
	draining atomic.Bool

	rates *engine.RateGroup // WithRateLimit's total: every client is a member; nil: none
	half  []halfCloses      // by shard, made on OnBoot
	// freePairs are the ended pairs kept for new clients, by shard
	// (releasePair); made on OnBoot. Loop only, each its own shard's.
	freePairs [][]*pair

	// Counters: the shards write, any goroutine reads.
	active    atomic.Int64
	clients   atomic.Uint64
	relayed   atomic.Uint64
	noBackend atomic.Uint64
	retries   atomic.Uint64
	bytesUp   atomic.Uint64
	bytesDown atomic.Uint64
	spliced   atomic.Uint64
}

// New returns a Proxy with the options; WithPool is required.
func New(opts ...Option) (*Proxy, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg}
	if rl := cfg.rateTotal; rl.Rate > 0 {
		g, err := engine.NewRateGroup(rl, rl)
		if err != nil {
			return nil, fmt.Errorf("%w: WithRateLimit: %w", ErrInvalidOption, err)
		}
		p.rates = g
	}
	p.up = upstreamSide{p}
	p.check = checkSide{p}
	return p, nil
}

// EngineOptions returns the engine options the Proxy needs (the tick that
// drives health checks), those its relay path is measured fastest with
// (the read buffer's size), and its watermarks in notify mode for every
// connection of the engine (WithWatermarks, WithWaterMode), which spares
// each connection marks of its own. Pass them to engine.New or
// engine.Serve after your own. Without them the Proxy still works: it
// sets the marks on each connection it relays.
func (p *Proxy) EngineOptions() []engine.Option { return p.cfg.engineOptions() }

// Stats returns the Proxy's counters. Any goroutine.
func (p *Proxy) Stats() Stats {
	return Stats{
		Active:    p.active.Load(),
		Clients:   p.clients.Load(),
		Relayed:   p.relayed.Load(),
		NoBackend: p.noBackend.Load(),
		Retries:   p.retries.Load(),
		BytesUp:   p.bytesUp.Load(),
		BytesDown: p.bytesDown.Load(),
		Spliced:   p.spliced.Load(),
	}
}

// Drain stops the engine accepting (every listener is closed, so new
// clients are refused by the kernel) and health checking, then waits for
// the engine's connections to end by themselves (the pairs in flight, the
// clients accepted but not yet opened), or for ctx to end, and returns
// ctx's error in that case. Call the engine's Stop after it: that closes
// whatever is left. Clients still in the kernel's accept queue when the
// listener closes are reset by it, as with any proxy that closes its
// listening socket. Any goroutine but a shard's.
func (p *Proxy) Drain(ctx context.Context) error {
	if p.eng == nil {
		return fmt.Errorf("%w: Drain before the engine booted the proxy", ErrInvalidOption)
	}
	p.draining.Store(true)
	for _, a := range p.eng.Addrs() {
		_ = p.eng.Unlisten(a) // ErrEngineStopped or gone already: nothing to stop
	}
	// The engine counts a connection from its accept, before its shard
	// opens it, so once Unlisten has returned nothing can slip past this.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for p.eng.Conns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// notify puts c in notify mode with the relay's marks. An engine made
// with EngineOptions gives every connection those already (WithWaterMode),
// and then nothing is stored in the connection; on an engine made without
// them, c gets marks of its own. Loop only.
func (p *Proxy) notify(c *engine.Conn) error {
	if low, high, mode := c.Watermarks(); low == p.cfg.low && high == p.cfg.high && mode == engine.WaterNotify {
		return nil
	}
	return c.SetWatermarks(p.cfg.low, p.cfg.high, engine.WaterNotify)
}

// OnBoot keeps the engine, for Dial, and binds the pools to it.
func (p *Proxy) OnBoot(e *engine.Engine) error {
	p.eng = e
	p.bootHalfCloses(e.Shards())
	for _, pool := range p.cfg.pools {
		if err := pool.bind(p, e.Shards()); err != nil {
			return err
		}
	}
	return nil
}

// OnOpen pairs a new client with a backend. Without a Router the client is
// not read until its backend is connected: its bytes wait in the kernel,
// so a client no backend answers costs no memory here.
func (p *Proxy) OnOpen(c *engine.Conn) error {
	p.clients.Add(1)
	p.active.Add(1)
	pr := newPair(p, c)
	c.SetContext(pr)
	if err := p.notify(c); err != nil {
		return err // the marks exceed the engine's max queued output
	}
	if rl := p.cfg.rateClient; rl.Rate > 0 {
		if err := c.SetRateLimit(rl, rl); err != nil {
			return err // validated in New
		}
	}
	if p.rates != nil {
		c.SetRateGroup(p.rates)
	}
	if p.cfg.router == nil {
		pr.route(p.cfg.pools[0])
		return nil
	}
	pr.sniffing = true
	c.SetReadDeadline(time.Now().Add(p.cfg.sniffTimeout))
	return nil
}

// OnTraffic relays the client's bytes, or shows them to the Router.
func (p *Proxy) OnTraffic(c *engine.Conn) {
	pr := pairOf(c)
	if pr.sniffing {
		pr.sniff(false)
		return
	}
	pr.up.relay()
}

// OnReadEOF passes the client's half-close on.
func (p *Proxy) OnReadEOF(c *engine.Conn) {
	pr := pairOf(c)
	if pr.sniffing {
		pr.sniff(true)
		return
	}
	pr.readEOF(&pr.up)
}

// OnDrained resumes a splicing direction that waits for the client to
// take bytes (NotifyWritable).
func (p *Proxy) OnDrained(c *engine.Conn) { pairOf(c).drained(c) }

// OnHighWater pauses the backend: the client's queued output passed the
// high mark.
func (p *Proxy) OnHighWater(c *engine.Conn) { pairOf(c).down.hold(holdWater) }

// OnLowWater resumes the backend: the client's output is back to the low
// mark.
func (p *Proxy) OnLowWater(c *engine.Conn) { pairOf(c).down.unhold(holdWater) }

// OnClose ends the pair.
func (p *Proxy) OnClose(c *engine.Conn, reason error) { pairOf(c).closed(c, reason) }

// OnTick runs the health checks this shard owns.
func (p *Proxy) OnTick(shard int) {
	if p.draining.Load() {
		return
	}
	now := time.Now()
	for _, pool := range p.cfg.pools {
		pool.tick(shard, now)
	}
}

// upstreamSide is the handler of the backends' connections.
type upstreamSide struct{ p *Proxy }

// OnBoot is never called for a Dial handler.
func (upstreamSide) OnBoot(*engine.Engine) error { return nil }

// OnOpen accepts: the dial callback links the connection to its pair.
func (upstreamSide) OnOpen(*engine.Conn) error { return nil }

// OnTraffic relays the backend's bytes to the client.
func (upstreamSide) OnTraffic(c *engine.Conn) { pairOf(c).down.relay() }

// OnReadEOF passes the backend's half-close on.
func (upstreamSide) OnReadEOF(c *engine.Conn) { pr := pairOf(c); pr.readEOF(&pr.down) }

// OnDrained resumes a splicing direction that waits for the backend.
func (upstreamSide) OnDrained(c *engine.Conn) { pairOf(c).drained(c) }

// OnHighWater pauses the client: the backend's queued output passed the
// high mark.
func (upstreamSide) OnHighWater(c *engine.Conn) { pairOf(c).up.hold(holdWater) }

// OnLowWater resumes the client.
func (upstreamSide) OnLowWater(c *engine.Conn) { pairOf(c).up.unhold(holdWater) }

// OnClose ends the pair. A connection refused in OnOpen has no pair yet.
func (upstreamSide) OnClose(c *engine.Conn, reason error) {
	if pr, ok := c.Context().(*pair); ok {
		pr.closed(c, reason)
	}
}

// OnTick is not called for a Dial handler.
func (upstreamSide) OnTick(int) {}

func pairOf(c *engine.Conn) *pair { return c.Context().(*pair) }

// The Proxy and the backends' handler must hear about watermarks.
var (
	_ engine.WaterNotifier = (*Proxy)(nil)
	_ engine.WaterNotifier = upstreamSide{}
)

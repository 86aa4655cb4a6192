package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/balancer"
	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/shard"
)

// Engine runs N shards and the listeners that feed them. Its methods are
// safe from any goroutine.
type Engine struct {
	cfg     config
	h       Handler
	pool    *buffer.Pool
	shards  []*shardCtx
	packets []*packetShard // the shards' datagram sides, index for index
	loads   balancer.Loads // the shards, as an interface made once: converting a slice to one allocates
	dials   sync.Pool      // *dialState: Dial's connects in progress, reused (see dialState)
	offload *workerPool

	mu        sync.Mutex     // guards listeners and stopping; never held while waiting on a loop
	listeners []*listener    // guarded by mu
	stopping  bool           // guarded by mu
	unlistens sync.WaitGroup // Unlisten calls still closing a listener; Add under mu, before stopping

	// gate orders Dial and Enroll against Stop: they hold it for reading
	// while they check closing and queue their task, Stop holds it for
	// writing to set closing. A lock of its own, so that a callback that
	// dials never waits on e.mu.
	gate     sync.RWMutex
	closing  bool // guarded by gate
	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{} // closed when Stop has finished

	acceptLoop *shard.Loop   // the acceptor-mode listeners' loop; guarded by mu, made on first Listen
	acceptDone chan struct{} // closed when acceptLoop's goroutine returns

	packetClosers sync.WaitGroup // PacketListener.Close calls finishing in the background

	running   bool         // the shard goroutines were started; set once in New
	liveTotal atomic.Int64 // live connections over all shards, for WithMaxConns
	overLimit atomic.Uint64

	// TLS handshakes: shards add to tlsInFlight when they start one, its
	// goroutine takes it back. handshakes counts the handshake goroutines,
	// running one or parked in hsIdle; Stop ends the parked ones and waits
	// for all.
	handshakes  sync.WaitGroup
	hsIdle      hsIdle // handshake goroutines parked for the next handshake (tls_idle.go)
	tlsInFlight atomic.Int64
	tlsRefused  atomic.Uint64 // past WithMaxHandshakes; shards write, Stats reads
	tlsFailed   atomic.Uint64 // TLS connections closed before their handshake was done
	tlsDone     atomic.Uint64 // TLS handshakes completed; shards write, Stats reads
	hsCPU       cpuSlots      // WithHandshakeCPU's slots, taken by handshake goroutines
	proxyFailed atomic.Uint64 // PROXY listeners' connections closed before their header was read

	lagBounds []time.Duration // the lag histograms' bucket bounds; set in New, read only after
}

// New starts an engine: its shards run at once, each on its own locked OS
// thread, and h.OnBoot runs before New returns. Add listeners with Listen;
// make outbound connections with Dial or Enroll.
func New(h Handler, opts ...Option) (*Engine, error) {
	if err := platformErr(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, h: h, pool: buffer.NewPool(), stopped: make(chan struct{}), lagBounds: lagBounds()}
	e.hsCPU.init(&e.cfg)
	e.hsIdle.init(e.cfg.maxHandshakes)
	for i := 0; i < cfg.shards; i++ {
		sopts := []shard.Option{shard.WithPanicHandler(e.loopPanic), shard.WithBusyPoll(cfg.busyPoll), shard.WithRuntimeWait(cfg.runtimeWait)}
		if cfg.pin {
			sopts = append(sopts, shard.WithCPU(i))
		}
		loop, err := shard.New(sopts...)
		if err != nil {
			e.closeShards()
			return nil, err
		}
		e.shards = append(e.shards, newShardCtx(e, i, loop))
		e.packets = append(e.packets, newPacketShard(e.shards[i]))
	}
	e.loads = loads(e.shards)
	e.offload = newWorkerPool(cfg.workers, cfg.workQueue)
	for _, s := range e.shards {
		go s.run()
	}
	e.running = true
	if cfg.lagSample > 0 {
		for _, s := range e.shards {
			_ = s.loop.Submit(func() { s.startLagSampling(cfg.lagSample) })
		}
	}
	if err := h.OnBoot(e); err != nil {
		e.Stop(context.Background())
		return nil, fmt.Errorf("engine: OnBoot: %w", err)
	}
	// The ticks start after OnBoot, so what OnBoot set up (per-shard
	// state a handler sizes there) is there for every OnTick: the task
	// queue orders the two.
	if cfg.tick > 0 {
		for _, s := range e.shards {
			_ = s.loop.Submit(func() { s.loop.Every(cfg.tick, func() { e.h.OnTick(s.idx); s.flushDirty() }) })
		}
	}
	return e, nil
}

// run is a shard's goroutine. The loop locks it to its thread for good
// (except while a WithRuntimeWait loop is parked, when it may move).
func (s *shardCtx) run() {
	defer close(s.loopDone)
	if err := s.loop.Run(); err != nil && !errors.Is(err, shard.ErrClosed) {
		s.e.cfg.logger.Error("shard loop failed", "shard", s.idx, "err", err)
	}
}

func (e *Engine) loopPanic(v any, stack []byte) {
	e.cfg.logger.Error("panic in shard callback", "panic", v, "stack", string(stack))
}

// Shards returns the number of shards. Any goroutine.
func (e *Engine) Shards() int { return len(e.shards) }

// onShard reports whether the caller runs on shard i's thread.
func (e *Engine) onShard(i int) bool {
	return i >= 0 && int64(e.shards[i].loop.OSThread()) == threadID()
}

// onLoop reports whether the caller runs on one of the engine's shard
// threads.
func (e *Engine) onLoop() bool {
	tid := threadID()
	for _, s := range e.shards {
		if int64(s.loop.OSThread()) == tid {
			return true
		}
	}
	return false
}

// Stop stops accepting, closes every connection gracefully (queued output
// is sent) until ctx ends, aborts what is left, and frees the shards. It
// waits for all of that and returns ctx's error if it had to abort
// connections. Called from a callback, or from a function running on the
// Offload pool, it only starts the stop and returns nil: a shard or a
// worker cannot wait for itself. Safe to call more than once; later calls
// wait for the first to finish. Stop also waits for the goroutines of TLS
// handshakes in progress, which end as their connections close, unless a
// tls.Config callback of the application's (GetCertificate, say) blocks.
func (e *Engine) Stop(ctx context.Context) error {
	if e.onLoop() || e.offload.onWorker() {
		e.stopOnce.Do(func() { go e.stop(context.WithoutCancel(ctx)) })
		return nil
	}
	e.stopOnce.Do(func() { e.stop(ctx) })
	<-e.stopped
	return e.stopErr
}

func (e *Engine) stop(ctx context.Context) {
	defer close(e.stopped)
	e.gate.Lock()
	e.closing = true
	e.gate.Unlock()
	e.mu.Lock()
	e.stopping = true
	ls := e.listeners
	e.listeners = nil
	e.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
	// A listener Unlisten took out of the list is closed by it, on the
	// loops still running: wait for that before closing them.
	e.unlistens.Wait()
	e.packetClosers.Wait()
	e.closePackets()
	if e.acceptLoop != nil {
		_ = e.acceptLoop.Close()
		<-e.acceptDone
	}
	// Close every connection gracefully on its shard, then wait for the
	// shards to empty or ctx to end. The close-all tasks must have run
	// before the emptiness check means anything: tasks queued ahead of
	// them (a Dial's connect, a hand-off) may yet add a connection, and
	// with no connection live the check would pass at once and the loops
	// would close with those tasks unrun (a Dial's callback never called).
	passed := make(chan struct{}, len(e.shards))
	for _, s := range e.shards {
		if s.loop.Submit(func() {
			defer func() { passed <- struct{}{} }()
			for _, c := range s.snapshot() {
				c.closeGracefully(closeStopped)
			}
			s.abortDials(ErrEngineStopped)
			s.flushDirty()
		}) != nil {
			passed <- struct{}{}
		}
	}
	err := func() error {
		for range e.shards {
			select {
			case <-passed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return e.waitEmpty(ctx)
	}()
	if err != nil {
		e.stopErr = err
		for _, s := range e.shards {
			done := make(chan struct{})
			if s.loop.Submit(func() {
				for _, c := range s.snapshot() {
					c.abortWith(ErrEngineStopped)
				}
				close(done)
			}) == nil {
				<-done
			}
		}
	}
	e.closeShards()
	// Every connection is closed, so every handshake goroutine was woken
	// and ends; none is left after Stop.
	e.hsCPU.stop()  // the handshakes waiting for the CPU budget wait no more
	e.hsIdle.stop() // the shards are gone: no handshake starts, the parked goroutines end
	e.handshakes.Wait()
	for _, s := range e.shards {
		s.failAsync()
	}
	e.offload.stop()
}

// closePackets closes every UDP socket on its shard and waits for that.
// Sockets registered before Stop set closing are in the shards' lists by
// the time these tasks run (the task queues are FIFO).
func (e *Engine) closePackets() {
	done := make(chan struct{}, len(e.packets))
	for _, ps := range e.packets {
		if ps.sh.loop.Submit(func() {
			defer func() { done <- struct{}{} }()
			ps.closeAll()
		}) != nil {
			done <- struct{}{}
		}
	}
	for range e.packets {
		<-done
	}
}

// closeShards stops every loop and waits for its goroutine.
func (e *Engine) closeShards() {
	for _, s := range e.shards {
		_ = s.loop.Close()
	}
	if e.running {
		for _, s := range e.shards {
			<-s.loopDone
		}
	}
}

// waitEmpty polls until every shard has no connection, or ctx ends.
func (e *Engine) waitEmpty(ctx context.Context) error {
	return pollUntil(ctx, func() bool {
		for _, s := range e.shards {
			if s.live.Load() > 0 {
				return false
			}
		}
		return true
	})
}

// Conn returns a handle on the live connection with the ID, from any
// goroutine, or false if there is none.
func (e *Engine) Conn(id uint64) (Handle, bool) {
	idx := int(id >> 48)
	if idx >= len(e.shards) {
		return Handle{}, false
	}
	s := e.shards[idx]
	c, ok := s.lookup(id)
	if !ok {
		return Handle{}, false
	}
	return Handle{c: c}, true
}

// Offload runs fn on the engine's bounded worker pool, off every shard, for
// work that may block. fn answers with AsyncWrite. It returns
// ErrOffloadFull when the pool's queue is full and ErrEngineStopped after
// Stop. Any goroutine.
func (e *Engine) Offload(fn func()) error { return e.offload.submit(fn) }

// loads adapts the shards to balancer.Loads.
type loads []*shardCtx

func (l loads) Len() int       { return len(l) }
func (l loads) Load(i int) int { return int(l[i].live.Load()) }

// Stats returns the engine's counters. Any goroutine.
func (e *Engine) Stats() Stats {
	st := Stats{
		Shards:                make([]ShardStats, len(e.shards)),
		Refused:               e.overLimit.Load(),
		TLSRefused:            e.tlsRefused.Load(),
		TLSFailed:             e.tlsFailed.Load(),
		TLSHandshakes:         e.tlsDone.Load(),
		TLSHandshakeCPU:       time.Duration(e.hsCPU.held.Load()),
		TLSHandshakesDeferred: e.hsCPU.deferred.Load(),
		ProxyFailed:           e.proxyFailed.Load(),
	}
	bounds := lagBounds()
	for i, s := range e.shards {
		ls := s.loop.Stats()
		st.Shards[i] = ShardStats{
			Shard:          i,
			Conns:          int(s.live.Load()),
			Opened:         s.opened.Load(),
			Closed:         s.closed.Load(),
			BytesIn:        s.bytesIn.Load(),
			BytesOut:       s.bytesOut.Load(),
			TLSPlainIn:     s.plainIn.Load(),
			TLSPlainOut:    s.plainOut.Load(),
			QueuedBytes:    s.queuedBytes.Load(),
			Panics:         s.panics.Load(),
			RateWaitsRead:  s.rateWaitsRead.Load(),
			RateWaitsWrite: s.rateWaitsWrite.Load(),
			TasksQueued:    ls.TasksQueued,
			TasksRun:       ls.TasksRun,
			Iterations:     ls.Iterations,
			Busy:           ls.Busy,
			Lag:            ls.Lag,
			LagSamples:     s.lag.snapshot(bounds),
			CPU:            s.loop.CPU(),
			Packets:        e.packets[i].stats(),
		}
	}
	return st
}

// Conns returns the number of live connections over all shards. Any
// goroutine.
func (e *Engine) Conns() int { return int(e.liveTotal.Load()) }

// pollUntil checks cond every few milliseconds until it holds or ctx ends.
func pollUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

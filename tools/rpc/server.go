package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// HandlerFunc serves one call: req is the request's payload and dst an
// empty slice to append the answer to; it returns the answer (dst grown)
// or an error, which the caller receives as a RemoteError with
// StatusApplication and the error's text.
//
// req is valid only until the function returns, and the returned slice
// only until then too: the server copies it out. A handler registered
// with Handle runs on the connection's shard and must not block; one
// registered with HandleBlocking runs on the engine's offload pool.
type HandlerFunc func(req, dst []byte) ([]byte, error)

// method is one registered handler.
type method struct {
	fn       HandlerFunc
	blocking bool
}

// Server answers calls. Register handlers with Handle and HandleBlocking,
// then Serve; Stop ends it. The zero value is not usable: use NewServer.
type Server struct {
	cfg     serverConfig
	methods map[uint16]method // written before Serve only, then read by every shard
	table   []method          // methods indexed by number, built by Serve when they are few (see lookup)
	framer  *codec.LengthField
	eng     *engine.Engine
	shards  []serverShard // one per shard, indexed by Conn.Shard; loop only
	jobs    sync.Pool     // *job, for blocking calls

	draining atomic.Bool  // Stop began: new calls are refused
	offload  atomic.Int64 // blocking calls handed to the pool and not yet answered
	stats    serverCounters
}

// serverShard is one shard's scratch space. Loop only.
type serverShard struct {
	out []byte // handlers append answers here
	hdr [HeaderSize]byte
	iov [2][]byte // header and answer, for one Writev
	_   [64]byte  // keep shards' scratch off one cache line
}

// serverCounters are the server's totals; shards and workers add, Stats
// reads.
type serverCounters struct {
	calls, errors, refused, badFrames atomic.Uint64
}

// ServerStats are a server's totals since Serve.
type ServerStats struct {
	Calls     uint64 // calls answered, successfully or with an error
	Errors    uint64 // answers with a status other than StatusOK
	Refused   uint64 // calls refused while stopping or with the offload pool full
	BadFrames uint64 // connections closed for a bad frame
}

// NewServer returns a server with no handlers yet.
func NewServer(opts ...ServerOption) (*Server, error) {
	cfg := defaultServerConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxFrame < HeaderSize || cfg.maxFrame > 1<<30 {
		return nil, fmt.Errorf("%w: WithServerMaxFrame(%d): want %d..%d", ErrInvalidOption, cfg.maxFrame, HeaderSize, 1<<30)
	}
	f, err := newFramer(cfg.maxFrame)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, methods: make(map[uint16]method), framer: f}
	s.jobs.New = func() any { return newJob(s) }
	return s, nil
}

// Handle registers fn for method, to run on the connection's shard: for
// calls that answer at once from memory. Call it before Serve.
func (s *Server) Handle(m uint16, fn HandlerFunc) { s.methods[m] = method{fn: fn} }

// HandleBlocking registers fn for method, to run on the engine's offload
// pool (Engine.Offload), answering with AsyncWrite: for calls that may
// block. Other calls on the same connection are served meanwhile. Call it
// before Serve.
func (s *Server) HandleBlocking(m uint16, fn HandlerFunc) {
	s.methods[m] = method{fn: fn, blocking: true}
}

// Serve starts an engine on addrs with opts and serves calls on it until
// Stop.
//
// The engine's connections are edge-triggered (engine.WithEdgeTriggered)
// unless opts say otherwise. A level-triggered connection that epoll has
// reported stays on epoll's ready list until the next wait looks at it
// again, so every wait after a busy round polls each connection it served;
// edge-triggered, it leaves the list when reported. With an idle shard
// waiting in the runtime's poller (engine.WithRuntimeWait, as rpc-server
// runs) that is one such wait per wake-up saved from walking the round's
// connections: 64 B calls at a fixed rate used 0.985x the server CPU per
// call level-triggered ones did (benchmarks/results/rpc-15f). A request
// is framed from what each read brings, so the read that drains the socket
// is the only one a call needs, either way.
func (s *Server) Serve(addrs []string, opts ...engine.Option) error {
	if s.eng != nil {
		return fmt.Errorf("%w: Serve called twice", ErrInvalidOption)
	}
	s.table = methodTable(s.methods)
	opts = append([]engine.Option{engine.WithEdgeTriggered(true)}, opts...)
	e, err := engine.Serve(serverHandler{s}, addrs, opts...)
	if err != nil {
		return err
	}
	s.eng = e
	return nil
}

// maxTableMethod bounds the method table: numbers up to it make a slice
// of at most this many entries (16 bytes each); a server with a larger
// number keeps the map.
const maxTableMethod = 1023

// methodTable returns methods as a slice indexed by number, or nil when
// the largest number is above maxTableMethod. Every call looks its method
// up, and an index costs less than a map lookup.
func methodTable(methods map[uint16]method) []method {
	top := -1
	for id := range methods {
		top = max(top, int(id))
	}
	if top < 0 || top > maxTableMethod {
		return nil
	}
	t := make([]method, top+1)
	for id, m := range methods {
		t[id] = m
	}
	return t
}

// lookup returns the handler of method id. A method registered with a nil
// function counts as unknown.
func (s *Server) lookup(id uint16) (method, bool) {
	if s.table != nil {
		if int(id) < len(s.table) && s.table[id].fn != nil {
			return s.table[id], true
		}
		return method{}, false
	}
	m, ok := s.methods[id]
	return m, ok && m.fn != nil
}

// Engine returns the engine Serve started, or nil before Serve.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr { return s.eng.Addrs() }

// Stats returns the server's totals. Any goroutine.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Calls:     s.stats.calls.Load(),
		Errors:    s.stats.errors.Load(),
		Refused:   s.stats.refused.Load(),
		BadFrames: s.stats.badFrames.Load(),
	}
}

// Stop stops the server gracefully: it stops accepting connections,
// refuses new calls with ErrShuttingDown, waits for the blocking calls
// already running to answer, then stops the engine, which sends what is
// queued and closes every connection. Calls the server had not read when
// it closed fail on the client with ErrConnLost. When ctx ends first, Stop
// closes everything at once and returns ctx's error.
func (s *Server) Stop(ctx context.Context) error {
	if s.eng == nil {
		return nil
	}
	s.draining.Store(true)
	for _, a := range s.eng.Addrs() {
		_ = s.eng.Unlisten(a)
	}
	wait := time.NewTicker(time.Millisecond)
	defer wait.Stop()
	var err error
	for s.offload.Load() > 0 && err == nil {
		select {
		case <-wait.C:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		// Stop at once: the engine's Stop with a done context aborts.
		return errors.Join(err, s.eng.Stop(ctx))
	}
	return s.eng.Stop(ctx)
}

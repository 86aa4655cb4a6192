package engine

import (
	"sync"
	"sync/atomic"

	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/shard"
)

// maxIovecs caps the slices handed to one writev (the kernel's IOV_MAX is
// 1024; 64 covers a deep pipeline of small messages).
const maxIovecs = 64

// smallAlone is the largest Writev that writevAlone gathers into one write
// (a header and a short payload, as tools/rpc's answers); a larger one
// leaves as a writev from the caller's slices, uncopied.
const smallAlone = 512

// shardCtx is the engine's side of one shard: the loop, its shared read
// buffer, its connections and counters.
type shardCtx struct {
	e    *Engine
	idx  int
	loop *shard.Loop
	pool *buffer.Pool

	// Loop only.
	readBuf       []byte
	readFd        int                         // the fd readInto reads from
	readMax       int                         // > 0: the most readInto reads at once (a rate limit's allowance)
	readInto      func(p []byte) (int, error) // made once: read(readFd, p)
	bufs          [][]byte                    // scratch for writev
	iov           iovecs                      // scratch for writev
	dirty         []*Conn                     // connections with output to flush
	dirtyNext     int                         // the next dirty entry flushDirty takes
	alone         *Conn                       // the connection whose lone Writev went out whole in this callback (markSentAlone); flushDirty clears it
	queued        int                         // output bytes queued in this shard's connections
	queuedShown   int                         // the last queued value stored in queuedBytes
	nextID        uint64                      // the per-shard part of the next ID
	rereads       []*Conn                     // edge-triggered: reads to finish
	dialing       map[int]*dialState          // connects in progress, by fd
	spareBufs     []*connBufs                 // for connections that need buffers, see connBufs
	releases      []buffer.Release            // release hooks due to run, see runReleases
	releaseOwners []*Conn                     // the connection of each of releases
	releaseNext   int                         // the next entry runReleases takes
	releasing     bool                        // runReleases is running
	tlsPlain      []byte                      // where TLS records are decrypted for OnTraffic; made on first use
	tlsSrc        []byte                      // the ciphertext tlsSrcOf just read, in readBuf, not yet handed to crypto/tls (tlsWire)
	tlsSrcOf      *Conn                       // the TLS connection whose read is being decrypted; nil: none
	tlsOwned      []byte                      // the ciphertext of a TLS WriteOwned while it is sealed (pooled; tlsSealOwned)
	tlsOwnedOf    *Conn                       // the TLS connection whose WriteOwned is being sealed; nil: none
	yieldQueued   bool                        // the shard's yield to the goroutines it woke is queued (yield.go)

	// view is the unread rest of the read buffer while viewOf's OnTraffic
	// runs (see Conn.view).
	view   []byte
	viewOf *Conn

	// byID holds the live connections. The loop writes it under mu (once
	// per connection); any goroutine may look an ID up.
	mu   sync.Mutex
	byID connTable

	// async carries AsyncWrite requests to the loop, handoffs accepted fds
	// (see batch). The drain tasks are method values made once: making one
	// per post would allocate.
	async           batch[asyncWrite]
	drainAsyncFn    func()
	handoffs        batch[handedOff]
	drainHandoffsFn func()
	yieldFn         func()       // the shard's yield, yieldTask (yield.go)
	rounds          roundWaiters // handshakes parked at a yield point until this shard runs (tls_yield.go)
	hsStarts        hsStarts     // the pacing of handshake starts (tls_admit.go)

	// small is scratch where a small Writev is gathered (writevAlone). It
	// sits after the loop's other fields, so that its 512 bytes do not
	// spread those over more cache lines, and before the counters other
	// goroutines read.
	small [smallAlone]byte

	// Counters: the loop writes, any goroutine reads.
	live     atomic.Int64 // live connections (the balancer's load)
	opened   atomic.Uint64
	closed   atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	plainIn  atomic.Uint64 // TLS plaintext decrypted
	plainOut atomic.Uint64 // TLS plaintext sealed
	// queuedBytes publishes queued, the output bytes waiting in this
	// shard's connections; flushDirty stores it when it changed.
	queuedBytes atomic.Int64
	panics      atomic.Uint64
	// rateWaitsRead and rateWaitsWrite count the times an empty bucket
	// stopped a connection's reading or flushing (rateBlock).
	rateWaitsRead, rateWaitsWrite atomic.Uint64
	lag                           lagHistogram  // loop-lag samples (startLagSampling)
	loopDone                      chan struct{} // closed when the loop goroutine has returned
}

func newShardCtx(e *Engine, idx int, loop *shard.Loop) *shardCtx {
	s := &shardCtx{
		e:        e,
		idx:      idx,
		loop:     loop,
		pool:     e.pool,
		readBuf:  make([]byte, e.cfg.readBuf),
		iov:      newIovecs(maxIovecs),
		bufs:     make([][]byte, 0, maxIovecs),
		dialing:  make(map[int]*dialState),
		loopDone: make(chan struct{}),
	}
	s.readInto = func(p []byte) (int, error) {
		if s.readMax > 0 && len(p) > s.readMax {
			p = p[:s.readMax]
		}
		return rawRead(s.readFd, p)
	}
	s.drainAsyncFn = s.drainAsync
	s.yieldFn = s.yieldTask
	s.rounds.fn = s.roundPassed
	s.drainHandoffsFn = s.drainHandoffs
	return s
}

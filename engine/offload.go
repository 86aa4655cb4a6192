package engine

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// workerPool runs blocking work off the shards: a fixed number of
// goroutines reading a bounded queue. Bounded on both counts, so a burst of
// slow work queues up to a limit and then fails fast instead of growing
// without end.
type workerPool struct {
	mu     sync.RWMutex // write-held only by stop; guards closed
	closed bool
	work   chan func()
	wg     sync.WaitGroup

	// gids holds the goroutine IDs of the workers, so that Engine.Stop
	// can tell it runs on one: it must not wait for the pool then, as it
	// would wait for itself. Written by each worker once, under mu.
	gids map[uint64]bool
}

func newWorkerPool(workers, queue int) *workerPool {
	p := &workerPool{work: make(chan func(), queue), gids: make(map[uint64]bool, workers)}
	p.wg.Add(workers)
	for i := 0; i < workers; i++ {
		go p.worker()
	}
	return p
}

func (p *workerPool) worker() {
	defer p.wg.Done()
	id := goid()
	p.mu.Lock()
	p.gids[id] = true
	p.mu.Unlock()
	for fn := range p.work {
		fn()
	}
}

func (p *workerPool) submit(fn func()) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrEngineStopped
	}
	select {
	case p.work <- fn:
		return nil
	default:
		return ErrOffloadFull
	}
}

// stop lets queued work finish and waits for the workers.
func (p *workerPool) stop() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// onWorker reports whether the caller is one of the pool's workers.
func (p *workerPool) onWorker() bool {
	id := goid()
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.gids[id]
}

// goid returns the calling goroutine's ID, read from the first line of its
// stack trace ("goroutine 42 [running]:"). Go offers no cheaper way; it is
// used only when a worker starts and when Stop is called.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

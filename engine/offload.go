package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
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

	// tids holds each worker's OS thread ID, so that Engine.Stop can tell
	// it runs on a worker: it must not wait for the pool then, as it
	// would wait for itself. A worker keeps its thread for life, as a
	// shard does, so the ID stands for the worker; each worker writes its
	// own entry once, any goroutine reads.
	tids []atomic.Int64
}

func newWorkerPool(workers, queue int) *workerPool {
	p := &workerPool{work: make(chan func(), queue), tids: make([]atomic.Int64, workers)}
	p.wg.Add(workers)
	for i := range workers {
		go p.worker(&p.tids[i])
	}
	return p
}

func (p *workerPool) worker(tid *atomic.Int64) {
	defer p.wg.Done()
	runtime.LockOSThread() // never unlocked: the thread ends with the worker
	tid.Store(threadID())
	defer tid.Store(0) // the kernel may give the ID to a new thread
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
	tid := threadID()
	for i := range p.tids {
		if p.tids[i].Load() == tid {
			return true
		}
	}
	return false
}

package engine

import "sync"

// workerPool runs blocking work off the shards: a fixed number of
// goroutines reading a bounded queue. Bounded on both counts, so a burst of
// slow work queues up to a limit and then fails fast instead of growing
// without end.
type workerPool struct {
	mu     sync.RWMutex // write-held only by stop; guards closed
	closed bool
	work   chan func()
	wg     sync.WaitGroup
}

func newWorkerPool(workers, queue int) *workerPool {
	p := &workerPool{work: make(chan func(), queue)}
	p.wg.Add(workers)
	for i := 0; i < workers; i++ {
		go p.worker()
	}
	return p
}

func (p *workerPool) worker() {
	defer p.wg.Done()
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

package engine

// MaxQueuedOutput returns the cap set by WithMaxQueuedOutput: the most
// output a connection may have queued, sent or not yet applied. Adapters
// that write from other goroutines size their own buffering under it, so
// that an AsyncWrite they make is never refused. Any goroutine.
func (e *Engine) MaxQueuedOutput() int { return e.cfg.maxQueued }

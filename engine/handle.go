package engine

// Handle is a connection seen from outside its shard: it offers only what is
// safe from any goroutine. The ID inside makes a stale handle harmless:
// once the connection is closed, operations fail with ErrUnknownConn (or
// their callbacks get ErrConnClosed).
type Handle struct {
	c *Conn // never reused for another connection, so it stands for the ID
}

// ID returns the connection's ID, or 0 for the zero Handle.
func (h Handle) ID() uint64 {
	if h.c == nil {
		return 0
	}
	return h.c.id
}

// AsyncWrite is Conn.AsyncWrite.
func (h Handle) AsyncWrite(b []byte, done func(error)) error {
	if h.c == nil {
		return ErrUnknownConn
	}
	return h.c.AsyncWrite(b, done)
}

// AsyncWritev is Conn.AsyncWritev.
func (h Handle) AsyncWritev(bs [][]byte, done func(error)) error {
	if h.c == nil {
		return ErrUnknownConn
	}
	return h.c.AsyncWritev(bs, done)
}

// Do runs fn with the connection on its shard, if it is still open then.
// It returns ErrEngineStopped if the shard is gone. fn must not block.
func (h Handle) Do(fn func(c *Conn)) error {
	if h.c == nil {
		return ErrUnknownConn
	}
	c := h.c
	return mapSubmitErr(c.sh.loop.Submit(func() {
		if c.state != stateOpen {
			return
		}
		func() {
			defer c.recoverPanic()
			fn(c)
		}()
		c.sh.flushDirty()
	}))
}

// Close closes the connection gracefully on its shard (Conn.Close).
func (h Handle) Close() error {
	return h.Do(func(c *Conn) { c.Close() })
}

// Abort aborts the connection on its shard (Conn.Abort).
func (h Handle) Abort() error {
	return h.Do(func(c *Conn) { c.Abort() })
}

// Wake makes the shard call the handler's OnTraffic for the connection
// even though no bytes arrived, as gnet's Wake does: a way for other
// goroutines to get the handler to look at state they changed.
func (h Handle) Wake() error {
	return h.Do(func(c *Conn) {
		c.h.OnTraffic(c)
	})
}

// ResumeRead resumes reading the connection on its shard
// (Conn.ResumeRead): what a reader on another goroutine calls once it has
// caught up after the shard paused reading for it.
func (h Handle) ResumeRead() error {
	return h.Do(func(c *Conn) { c.ResumeRead() })
}

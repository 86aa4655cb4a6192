package netpollconn

import (
	"context"

	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/internal/blocking"
)

// OnRequest is netpoll's request callback: it reads a request from c (its
// reads block until the bytes are there) and writes the answer. A non-nil
// error closes the connection.
type OnRequest func(ctx context.Context, c *Conn) error

// HandlerOption configures NewHandler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	maxBuffered int
}

// WithMaxBuffered pauses reading a connection while more than n bytes wait
// unread for its OnRequest, so a slow handler bounds memory. Default 4 MiB.
func WithMaxBuffered(n int) HandlerOption { return func(c *handlerConfig) { c.maxBuffered = n } }

// handler adapts OnRequest to engine.Handler.
type handler struct {
	engine.BaseHandler
	on   OnRequest
	cfg  handlerConfig
	pool *buffer.Pool
}

// NewHandler returns an engine.Handler that serves each connection with
// on: whenever bytes wait and no OnRequest runs for the connection, it
// starts one on a goroutine of its own, and calls it again while bytes
// remain, as netpoll does.
func NewHandler(on OnRequest, opts ...HandlerOption) engine.Handler {
	cfg := handlerConfig{maxBuffered: 4 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	return &handler{on: on, cfg: cfg, pool: buffer.NewPool()}
}

// serving is the per-connection state the shard keeps.
type serving struct {
	c       *Conn
	running bool          // guarded by c.mu: an OnRequest goroutine is active
	flow    blocking.Flow // guarded by c.mu: reading paused past maxBuffered
	eof     bool          // guarded by c.mu
}

func (h *handler) OnOpen(ec *engine.Conn) error {
	ec.SetContext(&serving{c: newConn(ec, h.pool, true), flow: blocking.NewFlow(h.cfg.maxBuffered)})
	return nil
}

func (h *handler) OnTraffic(ec *engine.Conn) {
	s := ec.Context().(*serving)
	c := s.c
	b, _ := ec.Next(ec.Buffered())
	c.mu.Lock()
	c.in.Write(b)
	start := !s.running && c.in.Len() > 0
	if start {
		s.running = true
	}
	pause := s.flow.Fed(c.in.Len())
	c.mu.Unlock()
	if pause {
		ec.PauseRead()
	}
	c.wake()
	if start {
		go h.serve(s)
	}
}

func (h *handler) OnReadEOF(ec *engine.Conn) {
	s := ec.Context().(*serving)
	c := s.c
	c.mu.Lock()
	s.eof = true
	idle := !s.running
	c.mu.Unlock()
	c.shutdown(errEOF)
	if idle {
		ec.Close()
	}
}

func (h *handler) OnClose(ec *engine.Conn, _ error) {
	ec.Context().(*serving).c.shutdown(errConnClosed)
}

// serve runs OnRequest while bytes wait, then ends; the next bytes start
// another goroutine.
func (h *handler) serve(s *serving) {
	c := s.c
	ctx := context.WithValue(context.Background(), ctxKey{}, c)
	for {
		err := h.on(ctx, c)
		c.mu.Lock()
		if err != nil || c.err != nil && c.in.Len() == 0 {
			s.running = false
			c.mu.Unlock()
			c.Release()
			c.Close()
			return
		}
		resume := s.flow.Took(c.in.Len())
		if c.in.Len() == 0 {
			s.running = false
			eof := s.eof
			c.mu.Unlock()
			if resume {
				h.resume(c)
			}
			if eof {
				c.Close()
			}
			return
		}
		c.mu.Unlock()
		if resume {
			h.resume(c)
		}
	}
}

func (h *handler) resume(c *Conn) {
	if hd, ok := c.ec.Engine().Conn(c.id); ok {
		_ = hd.ResumeRead()
	}
}

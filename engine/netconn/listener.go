package netconn

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/shardnet/shardnet/engine"
)

// Listener is a net.Listener over an engine's listeners. It is the
// engine's Handler: make the engine with it (engine.Serve(ln, addrs) or
// engine.New(ln) and Engine.Listen), and the engine's acceptor accepts,
// balances the connections over the shards and applies its limits and
// stats; each connection the engine opens waits in a bounded queue until
// Accept returns it as a *Conn.
//
// Closing the Listener stops Accept and closes the engine's listening
// sockets (Engine.Unlisten), so later connections are refused by the
// kernel; the connections already Accepted stay open, and the engine is
// the caller's to Stop.
type Listener struct {
	h    connHandler
	addr atomic.Pointer[net.Addr] // the engine's first listening address

	queue chan *Conn    // opened, not yet Accepted
	done  chan struct{} // closed by Close

	mu      sync.Mutex // orders offer and Close, so nothing is queued after Close drained
	closed  bool       // guarded by mu
	e       *engine.Engine
	refused atomic.Uint64 // written on the shards, read by anyone
}

// NewListener returns a Listener for an engine to be made with it as the
// Handler.
func NewListener(opts ...Option) (*Listener, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	l := &Listener{
		queue: make(chan *Conn, cfg.backlog),
		done:  make(chan struct{}),
	}
	l.h = connHandler{cfg: cfg, ops: newWriteOps(), accept: l.offer}
	return l, nil
}

// Listen makes an engine that serves the Listener on addr (as
// engine.Serve takes it: "tcp://127.0.0.1:0", a bare "host:port", ...)
// with the engine options eopts. The engine is the caller's to Stop. Its
// connections' watermarks only notify (engine.WithWaterMode), as a
// net.Conn's must (see connHandler.OnOpen); set once for the engine, that
// costs an idle connection nothing, where marks of its own would.
func Listen(addr string, opts []Option, eopts ...engine.Option) (*Listener, *engine.Engine, error) {
	l, err := NewListener(opts...)
	if err != nil {
		return nil, nil, err
	}
	eopts = append([]engine.Option{engine.WithWaterMode(engine.WaterNotify)}, eopts...)
	e, err := engine.Serve(l, []string{addr}, eopts...)
	if err != nil {
		return nil, nil, err
	}
	return l, e, nil
}

// OnBoot is part of the engine.Handler the Listener is; it notes the
// engine.
func (l *Listener) OnBoot(e *engine.Engine) error {
	l.mu.Lock()
	l.e = e
	l.mu.Unlock()
	return nil
}

// OnOpen is part of the engine.Handler: it queues the new connection for
// Accept, or refuses it when the Listener is closed or its queue full.
func (l *Listener) OnOpen(ec *engine.Conn) error { return l.h.OnOpen(ec) }

// OnTraffic is part of the engine.Handler: it feeds the connection's
// readers.
func (l *Listener) OnTraffic(ec *engine.Conn) { l.h.OnTraffic(ec) }

// OnReadEOF is part of the engine.Handler: Read then returns io.EOF.
func (l *Listener) OnReadEOF(ec *engine.Conn) { l.h.OnReadEOF(ec) }

// OnDrained is part of the engine.Handler; it does nothing.
func (l *Listener) OnDrained(*engine.Conn) {}

// OnClose is part of the engine.Handler: it wakes the connection's parked
// calls.
func (l *Listener) OnClose(ec *engine.Conn, reason error) { l.h.OnClose(ec, reason) }

// OnTick is part of the engine.Handler; it does nothing.
func (l *Listener) OnTick(int) {}

// offer queues c for Accept. On the shard.
func (l *Listener) offer(c *Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		l.refused.Add(1)
		return net.ErrClosed
	}
	select {
	case l.queue <- c:
		return nil
	default:
		l.refused.Add(1)
		return ErrListenerFull
	}
}

// Accept waits for and returns the next connection, a *Conn. After Close
// it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.done:
		return nil, l.closedErr()
	}
}

func (l *Listener) closedErr() error {
	var a net.Addr
	if p := l.addr.Load(); p != nil {
		a = *p
	}
	return &net.OpError{Op: "accept", Net: "tcp", Addr: a, Err: net.ErrClosed}
}

// Close stops Accept (a parked one returns at once) and closes the
// engine's listening sockets, so connections that come later are refused
// (ECONNREFUSED); connections queued and not yet Accepted are closed.
// Closing again returns an error wrapping net.ErrClosed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("netconn: close listener: %w", net.ErrClosed)
	}
	l.closed = true
	close(l.done)
	e := l.e
	l.mu.Unlock()
	if e != nil {
		// The Listener is the engine's Handler: every address the
		// engine serves is its. An engine already stopping has closed
		// them itself.
		for _, a := range e.Addrs() {
			_ = e.Unlisten(a)
		}
	}
	for {
		select {
		case c := <-l.queue:
			c.Close()
		default:
			return nil
		}
	}
}

// Addr returns the engine's first listening address, or nil before the
// engine listens.
func (l *Listener) Addr() net.Addr {
	if p := l.addr.Load(); p != nil {
		return *p
	}
	l.mu.Lock()
	e := l.e
	l.mu.Unlock()
	if e == nil {
		return nil
	}
	addrs := e.Addrs()
	if len(addrs) == 0 {
		return nil
	}
	l.addr.Store(&addrs[0])
	return addrs[0]
}

// Refused counts the connections refused because the Listener was closed
// or its queue full. (The engine's own refusals, for WithMaxConns or a
// lack of fds, are in its Stats.)
func (l *Listener) Refused() uint64 { return l.refused.Load() }

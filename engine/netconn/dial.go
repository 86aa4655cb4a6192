package netconn

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// Dialer connects through an engine (Engine.Dial: the connect runs on a
// shard, which then owns the connection) and returns the connection as a
// *Conn. Its DialContext fits http.Transport.DialContext, and grpc's
// WithContextDialer through a one-line wrapper.
type Dialer struct {
	e *engine.Engine
	h *connHandler
}

// NewDialer returns a Dialer whose connections live on e's shards.
func NewDialer(e *engine.Engine, opts ...Option) (*Dialer, error) {
	if e == nil {
		return nil, ErrNoEngine
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	h := &connHandler{cfg: cfg, ops: newWriteOps()}
	return &Dialer{e: e, h: h}, nil
}

// Dial is DialContext with the background context.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// DialContext connects to addr on network ("tcp", "tcp4", "tcp6" or
// "unix"). ctx bounds the connect (its deadline becomes the engine's dial
// timeout) and its end abandons a connect in progress; once connected,
// ctx no longer matters.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	opts := []engine.DialOption{engine.DialHandler(d.h)}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, engine.DialTimeout(max(time.Until(dl), time.Millisecond)))
	}
	var (
		mu        sync.Mutex
		abandoned bool
	)
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	err := d.e.Dial(network+"://"+addr, func(ec *engine.Conn, err error) {
		if err != nil {
			ch <- result{err: err}
			return
		}
		c, _ := ec.Context().(*Conn)
		// Under mu, so that DialContext, once it has set abandoned, either
		// finds the Conn in ch or knows it will never be put there.
		mu.Lock()
		defer mu.Unlock()
		if abandoned || c == nil {
			ec.Close()
			return
		}
		ch <- result{c: c} // never blocks: one send, capacity 1
	}, opts...)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: r.err}
		}
		return r.c, nil
	case <-ctx.Done():
		mu.Lock()
		abandoned = true
		// The callback may have run before abandoned was set.
		select {
		case r := <-ch:
			if r.c != nil {
				r.c.Close()
			}
		default:
		}
		mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
}

// DialContext connects through e as Dialer.DialContext does, with the
// default options.
func DialContext(ctx context.Context, e *engine.Engine, network, addr string) (net.Conn, error) {
	d, err := NewDialer(e)
	if err != nil {
		return nil, err
	}
	return d.DialContext(ctx, network, addr)
}

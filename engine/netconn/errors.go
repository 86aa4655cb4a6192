package netconn

import (
	"errors"
	"net"
	"os"
)

var (
	// ErrListenerFull counts as the reason a connection was refused because
	// the listener's queue of connections not yet Accepted was full (see
	// WithBacklog and Listener.Refused): such a connection is closed by the
	// engine with a reason wrapping engine.ErrRejected and this error.
	ErrListenerFull = errors.New("netconn: accept queue full")

	// ErrNoEngine is returned by a Listener's Accept before the Listener
	// was served by an engine (engine.New or engine.Serve with it as the
	// handler), and by a Dialer without an Engine.
	ErrNoEngine = errors.New("netconn: no engine")
)

// opError wraps err as the net package does, so that callers that look
// for *net.OpError, net.Error or errors.Is(err, net.ErrClosed /
// os.ErrDeadlineExceeded) see what they would see on a net.TCPConn.
func opError(op, network string, laddr, raddr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Source: laddr, Addr: raddr, Err: err}
}

// errDeadline is the error a call fails with when its deadline has passed:
// the standard library's own, so errors.Is(err, os.ErrDeadlineExceeded)
// holds and Timeout() is true.
var errDeadline = os.ErrDeadlineExceeded

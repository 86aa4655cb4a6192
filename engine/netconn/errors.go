package netconn

import (
	"errors"
	"net"
	"os"
)

var (
	// ErrListenerFull is why a Listener refuses a connection when its
	// queue of connections not yet Accepted is full (WithBacklog): the
	// engine closes the connection with a reason wrapping
	// engine.ErrRejected and this error, and Listener.Refused counts it.
	ErrListenerFull = errors.New("netconn: accept queue full")

	// ErrNoEngine is returned by NewDialer without an engine.
	ErrNoEngine = errors.New("netconn: no engine")
)

// opError wraps err as the net package does, so that callers that look
// for *net.OpError, net.Error or errors.Is(err, net.ErrClosed /
// os.ErrDeadlineExceeded) see what they would see on a net.TCPConn.
func opError(op, network string, laddr, raddr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Source: laddr, Addr: raddr, Err: err}
}

// engineClosedError is what Read and Write return once the engine closed
// the connection itself (Stop, an idle or linger timeout): errors.Is
// matches net.ErrClosed and the engine's reason (engine.ErrEngineStopped,
// engine.ErrTimeout), and it has no Timeout method, so net.Error's
// Timeout() is false on the *net.OpError around it.
type engineClosedError struct{ reason error }

func (e *engineClosedError) Error() string {
	return "netconn: connection closed by the engine: " + e.reason.Error()
}

func (e *engineClosedError) Unwrap() []error { return []error{net.ErrClosed, e.reason} }

// errDeadline is the error a call fails with when its deadline has passed:
// the standard library's own, so errors.Is(err, os.ErrDeadlineExceeded)
// holds and Timeout() is true.
var errDeadline = os.ErrDeadlineExceeded

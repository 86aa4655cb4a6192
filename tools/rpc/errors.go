package rpc

import (
	"errors"
	"fmt"
)

// The sentinels callers test with errors.Is. Errors about one call or one
// connection wrap one of them and say what happened.
var (
	// ErrBadHeader is returned by DecodeHeader for a frame shorter than a
	// header or with flag bits this version does not know; a connection
	// that sends one is closed with a reason wrapping it.
	ErrBadHeader = errors.New("rpc: bad frame header")

	// ErrTimeout is returned to a call whose answer did not arrive within
	// its timeout. Its errors satisfy net.Error with Timeout() true.
	ErrTimeout = errors.New("rpc: call timed out")

	// ErrConnLost is returned to every call pending on a connection that
	// closed (the server went away, reset the connection, or sent a bad
	// frame); the error also wraps the connection's close reason.
	ErrConnLost = errors.New("rpc: connection lost")

	// ErrUnavailable is returned when no connection of the pool is up: the
	// client is reconnecting with back-off.
	ErrUnavailable = errors.New("rpc: no connection to the server")

	// ErrOverloaded is returned by Client.Go when MaxInflight calls are
	// already in flight (Call waits for room instead, until its context
	// ends), and to a call whose connection's output queue was full
	// (engine.ErrOutputFull).
	ErrOverloaded = errors.New("rpc: too many calls in flight")

	// ErrClosed is returned by calls on a closed client, and to the calls
	// still pending when Close ends them.
	ErrClosed = errors.New("rpc: client closed")

	// ErrUnknownMethod is carried back from a server that has no handler
	// for the call's method.
	ErrUnknownMethod = errors.New("rpc: unknown method")

	// ErrShuttingDown is carried back from a server that is stopping and
	// takes no new calls; the call was not run.
	ErrShuttingDown = errors.New("rpc: server shutting down")

	// ErrServerBusy is carried back from a server whose offload pool was
	// full; the call was not run.
	ErrServerBusy = errors.New("rpc: server busy")

	// ErrApplication is carried back when the handler returned an error;
	// the RemoteError holds its message.
	ErrApplication = errors.New("rpc: handler error")

	// ErrInvalidOption is returned by NewClient and NewServer for an
	// option out of range; the message names it.
	ErrInvalidOption = errors.New("rpc: invalid option")
)

// RemoteError is an error the server answered with. Is matches the
// sentinel for its status (ErrUnknownMethod, ErrApplication, ...).
type RemoteError struct {
	Status  Status // why the server failed the call
	Message string // the server's text: the handler's error message, for ErrApplication
}

// Error returns the status and the server's message.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("%v (status %d): %s", e.Status.sentinel(), uint8(e.Status), e.Message)
}

// Unwrap returns the sentinel for the status.
func (e *RemoteError) Unwrap() error { return e.Status.sentinel() }

// timeoutError is ErrTimeout as a net.Error.
type timeoutError struct{ after string }

func (e timeoutError) Error() string   { return ErrTimeout.Error() + " after " + e.after }
func (e timeoutError) Unwrap() error   { return ErrTimeout }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

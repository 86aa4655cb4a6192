package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/shardnet/shardnet/shard"
)

var (
	// ErrEngineStopped is the close reason of connections the engine closed
	// while stopping, and is returned by operations started after Stop.
	ErrEngineStopped = errors.New("engine: stopped")

	// ErrConnClosed is returned by writes on a connection that is closed or
	// closing, and handed to AsyncWrite callbacks whose bytes were dropped
	// for that reason.
	ErrConnClosed = errors.New("engine: connection closed")

	// ErrPeerClosed is the close reason when the peer closed its side and
	// the connection ended without a local error.
	ErrPeerClosed = errors.New("engine: closed by peer")

	// ErrLocalClose is the close reason after Close or CloseWrite from the
	// application.
	ErrLocalClose = errors.New("engine: closed locally")

	// ErrAborted is the close reason after Abort.
	ErrAborted = errors.New("engine: aborted")

	// ErrRejected is the close reason when OnOpen returned an error; the
	// error OnOpen returned is wrapped with it.
	ErrRejected = errors.New("engine: rejected by handler")

	// ErrTooManyConns is the close reason for a connection accepted past
	// WithMaxConns.
	ErrTooManyConns = errors.New("engine: too many connections")

	// ErrOutputFull is returned by Write and AsyncWrite when the bytes would
	// take the connection's queued output past WithMaxQueuedOutput.
	ErrOutputFull = errors.New("engine: queued output over the limit")

	// ErrInboundFull is the close reason of a connection whose unread input
	// passed WithMaxInbound.
	ErrInboundFull = errors.New("engine: unread input over the limit")

	// ErrNotEnough is returned by Peek and Next when fewer bytes than asked
	// for are buffered.
	ErrNotEnough = errors.New("engine: not enough bytes buffered")

	// ErrPanic is the close reason of a connection whose callback panicked;
	// the panic value is in the wrapped message.
	ErrPanic = errors.New("engine: handler panicked")

	// ErrUnknownConn is returned by Engine.Conn operations for an ID that is
	// not, or no longer, a live connection.
	ErrUnknownConn = errors.New("engine: no such connection")

	// ErrInvalidOption is wrapped by New when an option is out of range; the
	// message names the option.
	ErrInvalidOption = errors.New("engine: invalid option")

	// ErrOffloadFull is returned by Offload when the worker pool's queue is
	// full.
	ErrOffloadFull = errors.New("engine: offload queue full")

	// ErrUnknownListener is returned by Unlisten for an address the
	// engine does not listen on.
	ErrUnknownListener = errors.New("engine: no such listener")

	// ErrNotOnShard is returned by the calls that must run on a given
	// shard's thread (AfterFunc, Every) when called anywhere else.
	ErrNotOnShard = errors.New("engine: not on the shard's thread")

	// ErrTLS is wrapped, with crypto/tls's error, in the close reason of a
	// TLS connection whose handshake or records failed (a bad certificate,
	// a bad MAC, an alert from the peer, garbage instead of a record), and
	// in the error a DialTLS callback gets for a failed handshake.
	ErrTLS = errors.New("engine: TLS")

	// ErrTLSTruncated is wrapped in the close reason of a TLS connection
	// whose peer closed TCP without sending close_notify first: the data
	// may have been cut short by an attacker or a crash.
	ErrTLSTruncated = errors.New("engine: TLS stream truncated (EOF without close_notify)")

	// ErrTLSBusy is the close reason of a TLS connection refused because
	// WithMaxHandshakes handshakes were already in progress.
	ErrTLSBusy = errors.New("engine: too many TLS handshakes in progress")

	// ErrNotForTLS is returned by the calls that would reach around the
	// TLS layer on a TLS connection (NotifyWritable, which exists for
	// writing to the fd directly).
	ErrNotForTLS = errors.New("engine: not available on a TLS connection")
	// ErrDatagramTooLarge is returned by PacketConn.WriteTo for a datagram
	// larger than UDP carries (65,507 bytes over IPv4, 65,527 over IPv6).
	ErrDatagramTooLarge = errors.New("engine: datagram too large")

	// ErrAddressFamily is returned by PacketConn.WriteTo for a destination
	// the socket cannot send to: an IPv6 peer of an IPv4 socket, a peer
	// other than the one a connected socket is connected to, or no
	// address.
	ErrAddressFamily = errors.New("engine: destination not reachable from this socket")

	// ErrNotListener is returned by ListenFiles for a file that is not a
	// listening stream socket, or for sockets bound to different
	// addresses.
	ErrNotListener = errors.New("engine: not a listening socket")

	// ErrUnsupported is wrapped by every call that would start or use an
	// engine (New, Serve, Listen, Dial, Enroll, Write, ...) on a platform
	// other than Linux, where the engine's API compiles but does not run.
	// The error names the platform, and errors.Is also matches the
	// standard library's errors.ErrUnsupported. Never returned on Linux.
	ErrUnsupported = errors.New("engine: unsupported platform (Linux only)")
)

// timeoutError is a deadline or idle timeout. It satisfies net.Error with
// Timeout() == true, and errors.Is(err, ErrTimeout).
type timeoutError struct{ what string }

func (e *timeoutError) Error() string   { return "engine: " + e.what + " timeout" }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout
}

// ErrTimeout matches, with errors.Is, every timeout the engine reports:
// idle, read, write, linger and connect timeouts. The errors themselves
// satisfy net.Error with Timeout() == true.
var ErrTimeout = errors.New("engine: timeout")

var (
	errIdleTimeout    error = &timeoutError{"idle"}
	errReadTimeout    error = &timeoutError{"read"}
	errWriteTimeout   error = &timeoutError{"write"}
	errConnectTimeout error = &timeoutError{"connect"}
	errLingerTimeout  error = &timeoutError{"linger"}
	errHandshakeTime  error = &timeoutError{"TLS handshake"}
	errSessionTimeout error = &timeoutError{"session idle"}
)

func optionError(name string, v any, want string) error {
	return fmt.Errorf("%w: %s(%v): want %s", ErrInvalidOption, name, v, want)
}

// wrapError is a sentinel with its cause: errors.Is matches both.
type wrapError struct{ kind, cause error }

func (w *wrapError) Error() string   { return w.kind.Error() + ": " + w.cause.Error() }
func (w *wrapError) Unwrap() []error { return []error{w.kind, w.cause} }

// wrapSyscall names the call that failed; errors.Is still finds the errno.
func wrapSyscall(call string, err error) error { return os.NewSyscallError(call, err) }

// mapSubmitErr turns a closed shard into the engine's own error.
func mapSubmitErr(err error) error {
	if errors.Is(err, shard.ErrClosed) {
		return ErrEngineStopped
	}
	return err
}

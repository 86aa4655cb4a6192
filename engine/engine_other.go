//go:build !linux

package engine

import (
	"context"
	"errors"
	"net"
	"runtime"
	"time"
)

// This file is the engine off Linux: the same exported API as the _linux.go
// files, so that code built on shardnet compiles on every platform, but no
// engine can start. Every function and method that returns an error returns
// one wrapping ErrUnsupported; the others return zero values. Keep it in
// step with the Linux API: TestAPISameOnEveryPlatform compares the two.

// unsupportedError is what the stubs return: it names the platform, and
// errors.Is matches both ErrUnsupported and errors.ErrUnsupported.
type unsupportedError struct{}

func (unsupportedError) Error() string {
	return "engine: unsupported platform " + runtime.GOOS + "/" + runtime.GOARCH + " (Linux only)"
}

func (unsupportedError) Unwrap() []error { return []error{ErrUnsupported, errors.ErrUnsupported} }

var errUnsupported error = unsupportedError{}

// Engine runs N shards and the listeners that feed them. Off Linux it is a
// stub: New and Serve fail with ErrUnsupported, so no Engine ever runs.
type Engine struct {
	_ [0]func() // not comparable, as on Linux
}

// New starts an engine on Linux. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported and naming the platform.
func New(h Handler, opts ...Option) (*Engine, error) { return nil, errUnsupported }

// Serve is New followed by Listen on every address on Linux. Off Linux it
// is a stub that returns an error wrapping ErrUnsupported.
func Serve(h Handler, addrs []string, opts ...Option) (*Engine, error) {
	return nil, errUnsupported
}

// Listen starts serving addr on Linux. Off Linux it is a stub that returns
// an error wrapping ErrUnsupported.
func (e *Engine) Listen(addr string) (net.Addr, error) { return nil, errUnsupported }

// Addrs returns the addresses the engine listens on. Off Linux it is a stub
// that returns nil.
func (e *Engine) Addrs() []net.Addr { return nil }

// Dial connects to addr without blocking any shard on Linux. Off Linux it
// is a stub that returns an error wrapping ErrUnsupported; cb never runs.
func (e *Engine) Dial(addr string, cb func(c *Conn, err error), opts ...DialOption) error {
	return errUnsupported
}

// Enroll takes over an open connection on Linux. Off Linux it is a stub
// that returns an error wrapping ErrUnsupported and leaves nc open.
func (e *Engine) Enroll(nc net.Conn) error { return errUnsupported }

// EnrollFd serves an open socket fd on a shard on Linux. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported and leaves fd open.
func (e *Engine) EnrollFd(fd int, isUnix bool) error { return errUnsupported }

// Shards returns the number of shards. Off Linux it is a stub that returns
// 0.
func (e *Engine) Shards() int { return 0 }

// Stop stops the engine on Linux. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (e *Engine) Stop(ctx context.Context) error { return errUnsupported }

// Conn returns a handle on the live connection with the ID. Off Linux it
// is a stub that returns false.
func (e *Engine) Conn(id uint64) (Handle, bool) { return Handle{}, false }

// Offload runs fn on the engine's worker pool on Linux. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported; fn never runs.
func (e *Engine) Offload(fn func()) error { return errUnsupported }

// Stats returns the engine's counters. Off Linux it is a stub that returns
// the zero Stats.
func (e *Engine) Stats() Stats { return Stats{} }

// Conns returns the number of live connections. Off Linux it is a stub
// that returns 0.
func (e *Engine) Conns() int { return 0 }

// Conn is a buffered connection owned by one shard. Off Linux it is a
// stub: no Conn is ever opened, its methods that return an error return
// one wrapping ErrUnsupported, and the others return zero values.
type Conn struct{}

// ID returns the connection's ID. Off Linux it is a stub that returns 0.
func (c *Conn) ID() uint64 { return 0 }

// Shard returns the index of the connection's shard. Off Linux it is a
// stub that returns 0.
func (c *Conn) Shard() int { return 0 }

// Fd returns the socket's file descriptor. Off Linux it is a stub that
// returns -1.
func (c *Conn) Fd() int { return -1 }

// Context returns the value set with SetContext. Off Linux it is a stub
// that returns nil.
func (c *Conn) Context() any { return nil }

// SetContext attaches a value to the connection. Off Linux it is a stub
// that does nothing.
func (c *Conn) SetContext(v any) {}

// Engine returns the engine the connection belongs to. Off Linux it is a
// stub that returns nil.
func (c *Conn) Engine() *Engine { return nil }

// LocalAddr returns the local address. Off Linux it is a stub that returns
// nil.
func (c *Conn) LocalAddr() net.Addr { return nil }

// RemoteAddr returns the peer's address. Off Linux it is a stub that
// returns nil.
func (c *Conn) RemoteAddr() net.Addr { return nil }

// Closed reports whether the connection is closed or closing. Off Linux it
// is a stub that returns true.
func (c *Conn) Closed() bool { return true }

// Buffered returns the number of unread bytes. Off Linux it is a stub that
// returns 0.
func (c *Conn) Buffered() int { return 0 }

// InboundBuffered is Buffered. Off Linux it is a stub that returns 0.
func (c *Conn) InboundBuffered() int { return 0 }

// Peek returns the next n unread bytes. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported.
func (c *Conn) Peek(n int) ([]byte, error) { return nil, errUnsupported }

// Next returns and consumes the next n unread bytes. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported.
func (c *Conn) Next(n int) ([]byte, error) { return nil, errUnsupported }

// Discard drops up to n unread bytes. Off Linux it is a stub that returns
// an error wrapping ErrUnsupported.
func (c *Conn) Discard(n int) (int, error) { return 0, errUnsupported }

// Read copies unread bytes into p. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (c *Conn) Read(p []byte) (int, error) { return 0, errUnsupported }

// OutboundBuffered returns the bytes queued for sending. Off Linux it is a
// stub that returns 0.
func (c *Conn) OutboundBuffered() int { return 0 }

// PauseRead stops reading from the connection. Off Linux it is a stub that
// does nothing.
func (c *Conn) PauseRead() {}

// ResumeRead undoes PauseRead. Off Linux it is a stub that does nothing.
func (c *Conn) ResumeRead() {}

// SetReadDeadline sets the read deadline. Off Linux it is a stub that does
// nothing.
func (c *Conn) SetReadDeadline(t time.Time) {}

// SetWriteDeadline sets the write deadline. Off Linux it is a stub that
// does nothing.
func (c *Conn) SetWriteDeadline(t time.Time) {}

// Write queues b for sending. Off Linux it is a stub that returns an error
// wrapping ErrUnsupported.
func (c *Conn) Write(b []byte) (int, error) { return 0, errUnsupported }

// WriteString is Write for a string. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (c *Conn) WriteString(s string) (int, error) { return 0, errUnsupported }

// Writev queues several slices as one write. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported.
func (c *Conn) Writev(bs ...[]byte) (int, error) { return 0, errUnsupported }

// WriteOwned queues b without copying it. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported; release never runs.
func (c *Conn) WriteOwned(b []byte, release func(sent bool)) error { return errUnsupported }

// Flush sends queued output now. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (c *Conn) Flush() error { return errUnsupported }

// NotifyWritable asks for one OnDrained call once the socket can take
// bytes. Off Linux it is a stub that returns an error wrapping
// ErrUnsupported.
func (c *Conn) NotifyWritable() error { return errUnsupported }

// CountBytes adds bytes moved on the fd outside the engine to the
// counters. Off Linux it is a stub that does nothing.
func (c *Conn) CountBytes(in, out int) {}

// AsyncWrite queues b for sending from any goroutine. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported; done never runs.
func (c *Conn) AsyncWrite(b []byte, done func(error)) error { return errUnsupported }

// AsyncWritev is AsyncWrite for several slices. Off Linux it is a stub
// that returns an error wrapping ErrUnsupported; done never runs.
func (c *Conn) AsyncWritev(bs [][]byte, done func(error)) error { return errUnsupported }

// Close closes the connection gracefully. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported.
func (c *Conn) Close() error { return errUnsupported }

// CloseWrite half-closes the connection. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported.
func (c *Conn) CloseWrite() error { return errUnsupported }

// Abort closes the connection at once. Off Linux it is a stub that does
// nothing.
func (c *Conn) Abort() {}

// Handle is a connection seen from outside its shard. Off Linux it is a
// stub: its methods that return an error return one wrapping
// ErrUnsupported.
type Handle struct {
	id uint64
}

// ID returns the connection's ID.
func (h Handle) ID() uint64 { return h.id }

// AsyncWrite is Conn.AsyncWrite. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (h Handle) AsyncWrite(b []byte, done func(error)) error { return errUnsupported }

// AsyncWritev is Conn.AsyncWritev. Off Linux it is a stub that returns an
// error wrapping ErrUnsupported.
func (h Handle) AsyncWritev(bs [][]byte, done func(error)) error { return errUnsupported }

// Do runs fn with the connection on its shard. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported; fn never runs.
func (h Handle) Do(fn func(c *Conn)) error { return errUnsupported }

// Close closes the connection gracefully on its shard. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported.
func (h Handle) Close() error { return errUnsupported }

// Abort aborts the connection on its shard. Off Linux it is a stub that
// returns an error wrapping ErrUnsupported.
func (h Handle) Abort() error { return errUnsupported }

// Wake makes the shard call OnTraffic for the connection. Off Linux it is a
// stub that returns an error wrapping ErrUnsupported.
func (h Handle) Wake() error { return errUnsupported }

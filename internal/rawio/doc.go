// Package rawio holds the raw system calls of the hot path: read, write,
// writev, accept4, splice, connect, setsockopt, shutdown and close on
// non-blocking fds, issued through RawSyscall and retried on EINTR in one
// place (but close and connect, which must not be retried).
//
// Why raw: on a non-blocking fd these calls never block, so the
// scheduler's syscall enter/exit buys nothing, and skipping it keeps the
// runtime's sysmon thread out of its 20 µs wake-up mode on a shard's core
// (measured on the project's machine: +10–30 % messages per second). A call
// that may block (epoll_wait with a timeout, connect on a blocking fd) must
// not come here.
//
// Errors are the bare unix.Errno, so callers compare them with ==
// (unix.EAGAIN) on the hot path; EINTR never escapes. The package is
// internal: it is the engine's and the shardnet tool's, not an API.
package rawio

package shard

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runtimeWait is the poller's WithRuntimeWait side: the epoll fd wrapped in
// an *os.File that the Go runtime's netpoller watches (an epoll fd is itself
// pollable: it reads as ready while its ready list is not empty). An idle
// loop parks its goroutine on that file, as a read on a net.Conn does,
// instead of blocking its thread in epoll_wait; once the runtime sees the fd
// readable the loop takes the events with a zero-timeout epoll_wait.
type runtimeWait struct {
	file *os.File
	raw  syscall.RawConn
	// ready is p.pollReady, made once so that a park allocates nothing.
	ready func(uintptr) bool
	// n and err are what the last pollReady found.
	n   int
	err error
	// when is the deadline set on file, in loop-clock nanoseconds: -1 none,
	// staleDeadline after one expired (the runtime then fails every read
	// until a deadline is set again).
	when int64
}

const staleDeadline = -2

// initRuntimeWait hands epfd to an *os.File registered with the runtime's
// poller. On failure epfd is closed.
func (p *poller) initRuntimeWait() error {
	// os.NewFile registers only a non-blocking fd with the runtime's
	// poller. O_NONBLOCK changes nothing else for an epoll fd: epoll_wait
	// takes its timeout as an argument.
	if err := unix.SetNonblock(p.epfd, true); err != nil {
		unix.Close(p.epfd)
		return os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(p.epfd), "shard-epoll")
	// Only a file the runtime's poller accepted has deadlines; without
	// them a park could not end at the nearest timer.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return fmt.Errorf("%w: WithRuntimeWait: the epoll fd cannot join the runtime's poller: %v", ErrInvalidOption, err)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: WithRuntimeWait: %v", ErrInvalidOption, err)
	}
	p.rt = &runtimeWait{file: f, raw: raw, when: -1}
	p.rt.ready = p.pollReady
	return nil
}

// pollReady is the RawConn.Read callback: a zero-timeout epoll_wait. It
// returns true (done) when it found events or failed; false makes the
// runtime park the goroutine until it sees the epoll fd readable. An event
// that arrives between this poll and the park is not lost: the runtime
// records the fd as ready and the park returns at once.
func (p *poller) pollReady(uintptr) bool {
	p.rt.n, p.rt.err = p.wait(0)
	return p.rt.n > 0 || p.rt.err != nil
}

// park waits in the runtime's poller until an fd of the set is ready or the
// loop clock reaches when (-1: no limit; epoch is the clock's zero), and
// returns the number of events, like wait. Reaching when is not an error:
// it returns 0.
func (p *poller) park(when int64, epoch time.Time) (int, error) {
	rt := p.rt
	if when != rt.when {
		var t time.Time
		if when >= 0 {
			t = epoch.Add(time.Duration(when))
		}
		if err := rt.file.SetReadDeadline(t); err != nil {
			return 0, err
		}
		rt.when = when
	}
	rt.n, rt.err = 0, nil
	if err := rt.raw.Read(rt.ready); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			rt.when = staleDeadline
			return 0, nil
		}
		return 0, fmt.Errorf("shard: waiting on the epoll fd: %w", err)
	}
	return rt.n, rt.err
}

// runtimeWaiting reports whether the poller parks in the runtime.
func (p *poller) runtimeWaiting() bool { return p.rt != nil }

package shard

import "errors"

var (
	// ErrClosed is returned by Submit, Run, RunOnce, Watch and the other
	// loop operations once Close has been called.
	ErrClosed = errors.New("shard: loop closed")

	// ErrRunning is returned by Run and RunOnce when another goroutine is
	// already running the loop.
	ErrRunning = errors.New("shard: loop already running")

	// ErrQueueFull is returned by Submit when WithTaskQueueLimit is set and
	// that many tasks are already waiting.
	ErrQueueFull = errors.New("shard: task queue full")

	// ErrWatched is returned by Watch for an fd the loop already watches.
	ErrWatched = errors.New("shard: fd already watched")

	// ErrNotWatched is returned by Modify and Unwatch for an fd the loop
	// does not watch.
	ErrNotWatched = errors.New("shard: fd not watched")

	// ErrBadEvents is returned by Watch and Modify when neither EventRead nor
	// EventWrite is asked for.
	ErrBadEvents = errors.New("shard: no read or write interest")

	// ErrUnsupported is returned by New on platforms without epoll.
	ErrUnsupported = errors.New("shard: unsupported platform (Linux only)")

	// ErrInvalidOption is wrapped by New when an option is out of range; the
	// message names the option.
	ErrInvalidOption = errors.New("shard: invalid option")
)

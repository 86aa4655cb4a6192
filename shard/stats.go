package shard

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a loop's counters.
type Stats struct {
	// Watched is the number of fds the loop watches.
	Watched int
	// Timers is the number of scheduled timers.
	Timers int
	// TasksQueued is the number of tasks waiting to run, those held back by
	// the per-round cap included.
	TasksQueued int
	// TasksRun counts the tasks run since New.
	TasksRun uint64
	// TasksDropped counts the tasks Close discarded unrun.
	TasksDropped uint64
	// Iterations counts completed rounds.
	Iterations uint64
	// Panics counts panics recovered from callbacks.
	Panics uint64
	// Busy is the time spent dispatching (callbacks, timers, tasks), not
	// waiting in epoll_wait.
	Busy time.Duration
	// Lag is how long the round in progress has been running, or 0 while
	// the loop waits. A large Lag means a callback is blocking the loop.
	Lag time.Duration
}

// counters are written by the loop and read by Stats from any goroutine.
type counters struct {
	watched    atomic.Int64
	timers     atomic.Int64
	tasks      atomic.Uint64
	dropped    atomic.Uint64
	iterations atomic.Uint64
	panics     atomic.Uint64
	busy       atomic.Int64
	roundStart atomic.Int64 // clock() at the start of the round in progress; 0 between rounds
}

// Stats returns the loop's counters. Any goroutine; each field is read
// atomically, the set is not one consistent instant.
func (l *Loop) Stats() Stats {
	s := Stats{
		Watched:      int(l.stats.watched.Load()),
		Timers:       int(l.stats.timers.Load()),
		TasksQueued:  int(l.tasks.waiting.Load() + l.tasks.left.Load()),
		TasksRun:     l.stats.tasks.Load(),
		TasksDropped: l.stats.dropped.Load(),
		Iterations:   l.stats.iterations.Load(),
		Panics:       l.stats.panics.Load(),
		Busy:         time.Duration(l.stats.busy.Load()),
	}
	if start := l.stats.roundStart.Load(); start != 0 {
		s.Lag = time.Duration(l.clock() - start)
	}
	return s
}

package shard

// park is round's blocking wait under WithRuntimeWait: the loop's goroutine
// parks in the Go runtime's netpoller until an fd of its set is ready, a
// wake-up arrives on the eventfd (which is in the set) or the nearest timer
// is due. The deadline is the timer's exact time; epoll_wait's whole
// milliseconds are not needed here.
//
// Unless WithCPU pinned the thread, the goroutine is unlocked from it while
// parked: a locked goroutine cannot run on the thread that finds it ready,
// so every wake-up would hand the P from that thread to the locked one and
// back (the runtime's stoplockedm and startlockedm, a futex wake and a
// context switch each). While unlocked the loop runs no callback, so loopTid
// is cleared for Close, and set again for whichever thread resumes it.
func (l *Loop) park() (int, error) {
	when := int64(-1)
	if len(l.timers) > 0 {
		when = l.timers[0].when
	}
	unlocked := l.releaseThread()
	n, err := l.poller.park(when, l.epoch)
	l.retakeThread(unlocked)
	return n, err
}

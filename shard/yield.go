package shard

import "runtime"

// Yield lets the goroutines a callback made runnable run now, on the
// loop's P, before the loop goes on (runtime.Gosched). Unless WithCPU
// pinned the thread, the loop's goroutine is unlocked from its thread
// meanwhile, as in the runtime wait's park: a locked goroutine's Gosched
// hands the P to another thread to run the others and takes it back when
// they park (the runtime's stoplockedm and startlockedm, a futex wake, a
// futex sleep and a context switch each way; 6 % of a TLS server's samples
// under new connections, two yields each, benchmarks/results/tls-16n).
// Unlocked, the thread that holds the P runs them and then the loop
// again, switching goroutines in user space. The loop may resume on
// another thread; OSThread follows it, and reads 0 meanwhile, as no
// callback runs. A pinned loop yields locked: its thread is the one it was
// pinned for. Loop only (a callback).
func (l *Loop) Yield() {
	unlocked := l.releaseThread()
	runtime.Gosched()
	l.retakeThread(unlocked)
}

// releaseThread unlocks the loop's goroutine from its thread, unless WithCPU
// pinned it, for a moment in which the loop runs no callback (a park or a
// yield), and reports whether it did. loopTid reads 0 meanwhile, so Close
// and inLoop see no callback on the thread the loop left.
func (l *Loop) releaseThread() bool {
	if l.cfg.cpu >= 0 {
		return false
	}
	l.loopTid.Store(0)
	runtime.UnlockOSThread()
	return true
}

// retakeThread locks the loop's goroutine to the thread it runs on now, after
// releaseThread reported unlocked, and records that thread as the loop's.
func (l *Loop) retakeThread(unlocked bool) {
	if unlocked {
		runtime.LockOSThread()
		l.loopTid.Store(int64(gettid()))
	}
}

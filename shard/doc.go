// Package shard is one reactor of shardnet: libevent's event_base, made for a
// single core.
//
// A Loop owns an epoll instance, an eventfd for wake-ups, a min-heap of
// timers, a task queue and a table of watched file descriptors. Run locks the
// calling goroutine to an OS thread for good (and, with WithCPU, pins that
// thread to one CPU of the process's allowed set), then repeats one round
// until told to stop:
//
//	epoll_wait (timeout = nearest timer, rounded up to whole ms)
//	    -> dispatch ready fds -> fire due timers -> run queued tasks (capped)
//
// With WithRuntimeWait an idle loop parks its goroutine in the Go runtime's
// netpoller instead (its epoll fd is registered there, the nearest timer is
// the deadline) and, unless WithCPU pinned it, leaves its thread while
// parked. It is off by default: it saves CPU where a wake-up carries one
// message or a few, but with several unpinned loops near saturation its
// tail latency is worse (see WithRuntimeWait). Yield, which a callback calls
// to let the goroutines it woke run on the loop's P, also leaves the thread
// for its moment unless WithCPU pinned it, in either wait: the loop may go
// on from another thread after it.
//
// # Threading
//
// Everything a Loop holds belongs to the loop's goroutine. Methods say which
// goroutines may call them:
//
//   - any goroutine: Submit, Exit, Break, Close, Stats, CPU, PollFd;
//   - loop only: Watch, Modify, Unwatch, Handover, Park, Forget, Yield,
//     AfterFunc, Every, InitTimer and the Timer methods. "Loop only" means from a callback the loop runs, or from
//     the goroutine that owns a loop that is not running (before Run, or
//     between RunOnce calls).
//
// Other goroutines reach loop-only state through Submit, whose queue is FIFO:
// tasks from one producer run in the order they were submitted.
//
// Handover gives a watched fd to another handler with one EPOLL_CTL_MOD (or
// none); Park stops watching an fd at the end of the round, so a Watch
// before then is one MOD instead of a DEL and an ADD; Forget drops an fd
// that is about to be closed without the DEL that close(2) makes for it,
// which holds only while no copy of the fd stays open.
//
// # Lifecycle
//
//	l, err := shard.New(shard.WithCPU(0))
//	if err != nil { ... }
//	go l.Run()            // returns after Exit, Break or Close
//	l.Submit(func() { ... })
//	l.Close()             // stops Run, frees the epoll fd, the eventfd and the timers
//
// A panic in a callback (fd handler, timer or task) is recovered, handed to
// the hook set with WithPanicHandler (by default it is printed to standard
// error with its stack), and the loop carries on with the next callback.
//
// Nothing is started at import and there is no package state: two loops in
// one process are independent.
package shard

package shard

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoopIdentityAcrossParks: across many parks (in the runtime's poller
// unpinned, the loop may resume on another thread each time), a callback is
// always recognised as the loop (inLoop, and OSThread is its own thread),
// a goroutine elsewhere never is, and Close from a callback after all those
// parks ends Run instead of waiting for it. Other goroutines locking threads
// and blocking in system calls meanwhile give the runtime reasons to hand
// the loop's goroutine to another thread.
func TestLoopIdentityAcrossParks(t *testing.T) {
	modes := append([]struct {
		name string
		opts []Option
	}{{name: "blocking epoll_wait"}}, runtimeWaitModes...)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			l := newLoop(t, m.opts...)
			done := startRun(t, l)

			stop := make(chan struct{})
			var churn sync.WaitGroup
			for range 2 {
				churn.Add(1)
				go func() {
					defer churn.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						runtime.LockOSThread()
						unix.Nanosleep(&unix.Timespec{Nsec: 200_000}, nil)
						runtime.UnlockOSThread()
						runtime.Gosched()
					}
				}()
			}
			defer churn.Wait()
			defer close(stop)

			const rounds = 100
			threads := map[int]int{}
			for i := range rounds {
				waitFor(t, slack, "the loop to sleep", l.sleeping.Load)
				time.Sleep(time.Millisecond)
				type seen struct{ inLoop, self, osThread int }
				got := make(chan seen, 1)
				if err := l.Submit(func() {
					s := seen{self: unix.Gettid(), osThread: l.OSThread()}
					if l.inLoop() {
						s.inLoop = 1
					}
					got <- s
				}); err != nil {
					t.Fatalf("Submit: %v", err)
				}
				var s seen
				select {
				case s = <-got:
				case <-time.After(slack):
					t.Fatalf("round %d: the task did not run", i)
				}
				if s.inLoop != 1 {
					t.Fatalf("round %d: a task on the loop is not inLoop", i)
				}
				if s.osThread != s.self {
					t.Fatalf("round %d: OSThread %d from a callback on thread %d", i, s.osThread, s.self)
				}
				threads[s.self]++
				// From here: another goroutine, locked so its thread is
				// its own while it looks.
				runtime.LockOSThread()
				in, tid, own := l.inLoop(), l.OSThread(), unix.Gettid()
				runtime.UnlockOSThread()
				if in {
					t.Fatalf("round %d: the test's goroutine is inLoop", i)
				}
				if tid == own {
					t.Fatalf("round %d: OSThread %d is the test goroutine's own thread", i, tid)
				}
			}
			t.Logf("callbacks ran on %d threads over %d parks", len(threads), rounds)

			closeFromCallback(t, l, done)
			if l.inLoop() || l.OSThread() != 0 {
				t.Fatalf("after Run: inLoop %v, OSThread %d", l.inLoop(), l.OSThread())
			}
		})
	}
}

package shard

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLoopYield: with one P, a goroutine a callback wakes runs inside the
// callback's Yield (now and then the runtime resumes the loop first).
// Unpinned, it runs on the loop's own thread (the loop
// let go of its thread for the yield, so no hand-off to another thread);
// pinned (WithCPU), the loop keeps its thread and the goroutine runs on
// another. Either way the callback is the loop again after Yield
// (inLoop, OSThread is its thread), and Close from a callback after the
// yields ends Run.
func TestLoopYield(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		name   string
		opts   []Option
		pinned bool
	}{
		{name: "unpinned"},
		{name: "pinned", opts: []Option{WithCPU(0)}, pinned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, tc.opts...)
			done := startRun(t, l)
			const yields = 20
			ranIn, sameThread := 0, 0
			for i := range yields {
				type seen struct {
					ran, inLoop, tidOK   bool
					before, after, woken int
				}
				got := make(chan seen, 1)
				if err := l.Submit(func() {
					s := seen{before: unix.Gettid()}
					wake := make(chan struct{})
					ran := make(chan int, 1)
					go func() {
						<-wake
						ran <- unix.Gettid()
					}()
					close(wake)
					l.Yield()
					select {
					case s.woken = <-ran:
						s.ran = true
					default:
						// The runtime took the loop first (it looks at the
						// global queue first every 61st time): the
						// goroutine runs at the loop's next stop.
						<-ran
					}
					s.after = unix.Gettid()
					s.inLoop = l.inLoop()
					s.tidOK = l.OSThread() == s.after
					got <- s
				}); err != nil {
					t.Fatalf("Submit: %v", err)
				}
				s := <-got
				if !s.inLoop || !s.tidOK {
					t.Fatalf("yield %d: after Yield inLoop %v, OSThread matches the thread %v", i, s.inLoop, s.tidOK)
				}
				if tc.pinned {
					if s.after != s.before {
						t.Fatalf("yield %d: a pinned loop moved from thread %d to %d", i, s.before, s.after)
					}
					if s.ran && s.woken == s.before {
						t.Fatalf("yield %d: the woken goroutine ran on the pinned loop's locked thread", i)
					}
				}
				if s.ran {
					ranIn++
					if s.woken == s.before {
						sameThread++
					}
				}
			}
			t.Logf("the woken goroutine ran inside %d of %d yields, on the loop's thread in %d", ranIn, yields, sameThread)
			// Unpinned, the thread that held the P ran it; another thread
			// may take the P now and then (the runtime's sysmon), so the
			// test asks it of half the yields; a locked loop gets none.
			if !tc.pinned && sameThread < yields/2 {
				t.Fatalf("the woken goroutine ran on the loop's thread in %d of %d yields: the loop did not let go of it", sameThread, yields)
			}
			closeFromCallback(t, l, done)
		})
	}
}

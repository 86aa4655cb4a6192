//go:build linux

package shard

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestZeroAllocs asserts the hot paths allocate nothing in steady state: a
// loop round with nothing to do, a round that dispatches a ready fd, a round
// that fires and re-arms a timer, and Submit of a pre-built func value, both
// from the loop's owner and from another goroutine to a running loop.
func TestZeroAllocs(t *testing.T) {
	noop := func() {}
	for _, tc := range []struct {
		name string
		// setup prepares l and returns the step to measure.
		setup func(t *testing.T, l *Loop) func()
	}{
		{name: "RunOnce idle", setup: func(t *testing.T, l *Loop) func() {
			return func() { l.RunOnce(false) }
		}},
		{name: "RunOnce with a ready fd", setup: func(t *testing.T, l *Loop) func() {
			r, w := newPipe(t)
			writeByte(t, w)
			calls := 0
			l.Watch(r, EventRead, HandlerFunc(func(int, Events) { calls++ }))
			t.Cleanup(func() {
				if calls == 0 {
					t.Error("the ready fd was never dispatched")
				}
			})
			return func() { l.RunOnce(false) }
		}},
		{name: "RunOnce firing a periodic timer", setup: func(t *testing.T, l *Loop) func() {
			fires := 0
			l.Every(time.Nanosecond, func() { fires++ })
			t.Cleanup(func() {
				if fires == 0 {
					t.Error("the timer never fired")
				}
			})
			return func() { l.RunOnce(false) }
		}},
		{name: "timer Reset and Stop", setup: func(t *testing.T, l *Loop) func() {
			var tm Timer
			l.InitTimer(&tm, noop)
			for i := 0; i < 100; i++ {
				l.AfterFunc(time.Duration(i)*time.Hour, noop)
			}
			return func() { tm.Reset(time.Minute); tm.Stop() }
		}},
		{name: "Submit then drain", setup: func(t *testing.T, l *Loop) func() {
			return func() {
				for i := 0; i < 64; i++ {
					l.Submit(noop)
				}
				for l.tasks.hasTasks() {
					l.RunOnce(false)
				}
			}
		}},
		{name: "Submit to a running loop", setup: func(t *testing.T, l *Loop) func() {
			startRun(t, l)
			// Grow the queue's two slices past what the measured runs
			// will hold, as a steady flow of tasks would.
			for i := 0; i < 4096; i++ {
				l.Submit(noop)
			}
			onLoop(t, l, noop)
			return func() { l.Submit(noop) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			step := tc.setup(t, l)
			step() // warm up: first-use growth of the fd table and slices
			if n := testing.AllocsPerRun(1000, step); n != 0 {
				t.Fatalf("%v allocations per run, want 0", n)
			}
		})
	}
}

// BenchmarkSubmit measures cross-goroutine Submit throughput into a running
// loop, with 1 producer and with one per GOMAXPROCS (b.RunParallel).
func BenchmarkSubmit(b *testing.B) {
	var ran atomic.Int64
	task := func() { ran.Add(1) }
	for _, tc := range []struct {
		name     string
		parallel bool
	}{
		{name: "producers=1"},
		{name: "producers=GOMAXPROCS", parallel: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := newLoop(b)
			startRun(b, l)
			ran.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if tc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l.Submit(task)
					}
				})
			} else {
				for i := 0; i < b.N; i++ {
					l.Submit(task)
				}
			}
			// Throughput counts a task when it has run, not when queued.
			onLoop(b, l, func() {})
			el := time.Since(start)
			b.StopTimer()
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%d of %d tasks ran", got, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "tasks/s")
		})
	}
}

// BenchmarkTimerAddStop measures arming and cancelling one timer in heaps of
// growing size: an embedded timer (InitTimer, no allocation) and AfterFunc
// (one Timer per call).
func BenchmarkTimerAddStop(b *testing.B) {
	noop := func() {}
	for _, heap := range []int{0, 1000, 100_000} {
		l := newLoop(b)
		for i := 0; i < heap; i++ {
			l.AfterFunc(time.Hour+time.Duration(i)*time.Millisecond, noop)
		}
		b.Run("heap="+strconv.Itoa(heap)+"/Reset+Stop", func(b *testing.B) {
			var tm Timer
			l.InitTimer(&tm, noop)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tm.Reset(time.Hour + time.Duration(i%heap1(heap))*time.Millisecond)
				tm.Stop()
			}
		})
		b.Run("heap="+strconv.Itoa(heap)+"/AfterFunc+Stop", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				l.AfterFunc(time.Hour+time.Duration(i%heap1(heap))*time.Millisecond, noop).Stop()
			}
		})
	}
}

func heap1(n int) int { return max(n, 1) }

// BenchmarkRoundTrip measures one Submit -> run -> signal back to an idle
// loop: the loop is asleep in epoll_wait each time, so this is the latency
// of the eventfd wake-up path.
func BenchmarkRoundTrip(b *testing.B) {
	l := newLoop(b)
	startRun(b, l)
	back := make(chan struct{}, 1)
	task := func() { back <- struct{}{} }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Submit(task)
		<-back
	}
}

// BenchmarkRunOnce measures one non-blocking round, idle and with ready fds
// whose handlers do nothing (level-triggered, so ready every round).
func BenchmarkRunOnce(b *testing.B) {
	for _, fds := range []int{0, 1, 64} {
		b.Run("ready="+strconv.Itoa(fds), func(b *testing.B) {
			l := newLoop(b)
			h := HandlerFunc(func(int, Events) {})
			for i := 0; i < fds; i++ {
				r, w := newPipe(b)
				writeByte(b, w)
				l.Watch(r, EventRead, h)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				l.RunOnce(false)
			}
		})
	}
}

// BenchmarkSubmitContended compares the queue under many producers with one
// wake-up per task: each producer waits for its task before the next, so
// the loop sleeps between them.
func BenchmarkSubmitContended(b *testing.B) {
	l := newLoop(b)
	startRun(b, l)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var wg sync.WaitGroup
		task := func() { wg.Done() }
		for pb.Next() {
			wg.Add(1)
			l.Submit(task)
			wg.Wait()
		}
	})
}

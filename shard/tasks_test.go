//go:build linux

package shard

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestSubmitManyProducers: 16 goroutines submit 100k tasks each to a running
// loop. Every task runs exactly once, and each producer's tasks run in the
// order it submitted them.
func TestSubmitManyProducers(t *testing.T) {
	const producers = 16
	perProducer := 100_000
	if testing.Short() {
		perProducer = 10_000
	}
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{name: "default"},
		// A cap of one task per round makes the loop sleep and wake far
		// more often, which is where lost wake-ups hide.
		{name: "one task per round", opts: []Option{WithMaxTasksPerRound(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := perProducer
			if len(tc.opts) > 0 {
				n /= 10
			}
			l := newLoop(t, tc.opts...)
			done := startRun(t, l)
			// next[p] is the sequence number producer p's next task must
			// carry; it is touched only on the loop.
			next := make([]int, producers)
			bad := 0
			var wg sync.WaitGroup
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < n; i++ {
						err := l.Submit(func() {
							if next[p] != i {
								bad++
							}
							next[p] = i + 1
						})
						if err != nil {
							t.Errorf("Submit: %v", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			// FIFO: a task submitted after all the others runs last.
			l.Submit(func() { l.Exit(0) })
			if err := waitRun(t, done, time.Minute); err != nil {
				t.Fatal(err)
			}
			if bad != 0 {
				t.Fatalf("%d tasks ran out of their producer's order", bad)
			}
			for p, got := range next {
				if got != n {
					t.Fatalf("producer %d: %d of %d tasks ran", p, got, n)
				}
			}
			if s := l.Stats(); s.TasksRun != uint64(producers*n+1) {
				t.Fatalf("Stats.TasksRun = %d, want %d", s.TasksRun, producers*n+1)
			}
		})
	}
}

func TestTaskQueueLimit(t *testing.T) {
	l := newLoop(t, WithTaskQueueLimit(3))
	ran := 0
	for i := 0; i < 3; i++ {
		if err := l.Submit(func() { ran++ }); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	if err := l.Submit(func() { ran++ }); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Submit to a full queue: %v, want ErrQueueFull", err)
	}
	// Exit(after) must not be lost to a full queue: it is the only way
	// to end Run later.
	l.Exit(time.Millisecond)
	done := startRun(t, l)
	if err := waitRun(t, done, slack); err != nil {
		t.Fatal(err)
	}
	if ran != 3 {
		t.Fatalf("%d of 3 queued tasks ran", ran)
	}
	if err := l.Submit(func() {}); err != nil {
		t.Fatalf("Submit once the queue drained: %v", err)
	}
}

// TestTaskQueueLimitCountsHeldBack: tasks taken from the inbox but held back
// by the per-round cap still count against the limit, so it bounds all the
// memory waiting tasks hold.
func TestTaskQueueLimitCountsHeldBack(t *testing.T) {
	l := newLoop(t, WithTaskQueueLimit(4), WithMaxTasksPerRound(2))
	noop := func() {}
	for i := 0; i < 4; i++ {
		if err := l.Submit(noop); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	rounds(t, l, 1) // runs 2, holds 2 back
	for i := 0; i < 2; i++ {
		if err := l.Submit(noop); err != nil {
			t.Fatalf("Submit into the 2 freed places: %v", err)
		}
	}
	if err := l.Submit(noop); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Submit with 2 held back and 2 queued: %v, want ErrQueueFull", err)
	}
	if s := l.Stats(); s.TasksQueued != 4 {
		t.Fatalf("Stats.TasksQueued = %d, want 4", s.TasksQueued)
	}
}

// TestBurstMemoryReleased: the task slices grown by a burst are not kept for
// the loop's lifetime once the burst has drained.
func TestBurstMemoryReleased(t *testing.T) {
	l := newLoop(t, WithMaxTasksPerRound(1<<20))
	noop := func() {}
	for i := 0; i < 100_000; i++ {
		l.Submit(noop)
	}
	rounds(t, l, 1) // takes and runs the burst
	l.Submit(noop)
	rounds(t, l, 1) // swaps the burst's slice out
	if c := max(cap(l.tasks.batch), cap(l.tasks.pending)); c > maxKeptTasks {
		t.Fatalf("a drained burst left a task slice of capacity %d", c)
	}
}

// TestSubmitFromLoop: a task may submit more tasks; they run after it, in
// order, and a round does not run more than its cap.
func TestSubmitFromLoop(t *testing.T) {
	l := newLoop(t, WithMaxTasksPerRound(4))
	var order []int
	l.Submit(func() {
		order = append(order, 0)
		for i := 1; i <= 6; i++ {
			l.Submit(func() { order = append(order, i) })
		}
	})
	rounds(t, l, 1)
	if len(order) != 4 {
		t.Fatalf("first round ran %d tasks, want the cap of 4", len(order))
	}
	rounds(t, l, 1)
	for i, v := range order {
		if v != i {
			t.Fatalf("order %v", order)
		}
	}
	if len(order) != 7 {
		t.Fatalf("ran %d of 7 tasks in two rounds", len(order))
	}
}

// TestNoLostWakeups ping-pongs with the loop from several goroutines: each
// submits one task and waits for it before the next, so the loop goes to
// sleep between most tasks and every Submit races with the loop falling
// asleep. A lost wake-up shows as a task that does not run within slack
// (with no timer the loop would sleep forever). The variant with a 1 ms
// ticker makes the loop's sleeps end on their own too, racing the eventfd.
func TestNoLostWakeups(t *testing.T) {
	const producers = 4
	pings := 5000
	if testing.Short() {
		pings = 200
	}
	for _, tc := range []struct {
		name   string
		ticker bool
	}{
		{name: "infinite sleeps"},
		{name: "with a 1ms ticker", ticker: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			if tc.ticker {
				l.Every(time.Millisecond, func() {})
			}
			startRun(t, l)
			var wg sync.WaitGroup
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					back := make(chan struct{}, 1)
					task := func() { back <- struct{}{} }
					for i := 0; i < pings; i++ {
						if err := l.Submit(task); err != nil {
							t.Errorf("Submit: %v", err)
							return
						}
						select {
						case <-back:
						case <-time.After(slack):
							t.Errorf("ping %d: task did not run within %v (lost wake-up)", i, slack)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

//go:build linux

package shard

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTimersFireInOrderNeverEarly arms timers with shuffled delays and
// checks that each fires no sooner than its delay after it was armed, by the
// test's own clock, and that they fire in deadline order.
func TestTimersFireInOrderNeverEarly(t *testing.T) {
	l := newLoop(t)
	// At least 5 ms apart, so that arming them one after another (well
	// under 5 ms, checked below) cannot reorder their deadlines.
	delays := []time.Duration{30, 5, 200, 0, 50, 15, 120, 10, 75, 20}
	for i := range delays {
		delays[i] *= time.Millisecond
	}
	var fired []time.Duration
	var whens []int64
	armed := make([]time.Time, len(delays))
	begin := time.Now()
	for i, d := range delays {
		armed[i] = time.Now()
		var tm *Timer
		tm = l.AfterFunc(d, func() {
			fired = append(fired, d)
			whens = append(whens, tm.when)
			if el := time.Since(armed[i]); el < d {
				t.Errorf("%v timer fired after %v", d, el)
			}
		})
	}
	arming := time.Since(begin)
	deadline := time.Now().Add(200*time.Millisecond + slack)
	for len(fired) < len(delays) && time.Now().Before(deadline) {
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
	}
	if len(fired) != len(delays) {
		t.Fatalf("%d of %d timers fired", len(fired), len(delays))
	}
	if !slices.IsSorted(whens) {
		t.Fatalf("fired out of deadline order: %v", fired)
	}
	if want := slices.Sorted(slices.Values(delays)); arming < 5*time.Millisecond && !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if n := l.Stats().Timers; n != 0 {
		t.Fatalf("%d timers left after all fired", n)
	}
}

// TestTimerFiresOnTime: a 200 ms timer, with the loop running, has fired by
// 200 ms plus slack and not before 200 ms.
func TestTimerFiresOnTime(t *testing.T) {
	l := newLoop(t)
	startRun(t, l)
	fired := make(chan time.Duration, 1)
	onLoop(t, l, func() {
		start := time.Now()
		l.AfterFunc(200*time.Millisecond, func() { fired <- time.Since(start) })
	})
	select {
	case el := <-fired:
		if el < 200*time.Millisecond {
			t.Fatalf("200ms timer fired after %v", el)
		}
	case <-time.After(200*time.Millisecond + slack):
		t.Fatal("200ms timer has not fired")
	}
}

// TestManyRandomTimers: 100k timers with random deadlines all fire, in
// deadline order, none early.
func TestManyRandomTimers(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	l := newLoop(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type rec struct {
		when  int64 // the deadline the heap ordered by
		early bool
	}
	fired := make([]rec, 0, n)
	for i := 0; i < n; i++ {
		d := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
		armed := l.clock()
		var tm *Timer
		tm = l.AfterFunc(d, func() {
			fired = append(fired, rec{when: tm.when, early: l.clock()-armed < int64(d)})
		})
	}
	if got := l.Stats().Timers; got != n {
		t.Fatalf("Stats.Timers = %d, want %d", got, n)
	}
	done := startRun(t, l)
	l.Exit(300*time.Millisecond + 10*time.Millisecond)
	if err := waitRun(t, done, 300*time.Millisecond+slack+10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(fired) != n {
		t.Fatalf("%d of %d timers fired", len(fired), n)
	}
	for i, f := range fired {
		if f.early {
			t.Fatalf("timer %d fired early", i)
		}
		if i > 0 && f.when < fired[i-1].when {
			t.Fatalf("timer %d (deadline %d) fired after one due at %d", i, f.when, fired[i-1].when)
		}
	}
}

func TestTimerStopReset(t *testing.T) {
	for _, tc := range []struct {
		name string
		// act runs on a loop with one timer of 20 ms armed; fire lets the
		// loop run until that timer's deadline has passed.
		act   func(l *Loop, tm *Timer, fire func()) (results []bool)
		want  []bool // what Stop/Reset reported
		fires int
	}{
		{name: "stop before firing", act: func(l *Loop, tm *Timer, fire func()) []bool {
			r := tm.Stop()
			fire()
			return []bool{r, tm.Stop(), tm.Active()}
		}, want: []bool{true, false, false}, fires: 0},
		{name: "stop after firing", act: func(l *Loop, tm *Timer, fire func()) []bool {
			fire()
			return []bool{tm.Active(), tm.Stop()}
		}, want: []bool{false, false}, fires: 1},
		{name: "reset before firing postpones", act: func(l *Loop, tm *Timer, fire func()) []bool {
			r := tm.Reset(time.Hour)
			fire()
			return []bool{r, tm.Active()}
		}, want: []bool{true, true}, fires: 0},
		{name: "reset before firing advances", act: func(l *Loop, tm *Timer, fire func()) []bool {
			r := tm.Reset(0)
			l.RunOnce(false)
			return []bool{r, tm.Active()}
		}, want: []bool{true, false}, fires: 1},
		{name: "reset after firing fires again", act: func(l *Loop, tm *Timer, fire func()) []bool {
			fire()
			r := tm.Reset(20 * time.Millisecond)
			fire()
			return []bool{r}
		}, want: []bool{false}, fires: 2},
		{name: "stop then reset", act: func(l *Loop, tm *Timer, fire func()) []bool {
			tm.Stop()
			r := tm.Reset(20 * time.Millisecond)
			fire()
			return []bool{r}
		}, want: []bool{false}, fires: 1},
		{name: "huge delay never fires", act: func(l *Loop, tm *Timer, fire func()) []bool {
			tm.Reset(math.MaxInt64)
			fire()
			return []bool{tm.Active(), l.timeoutMs() > 0}
		}, want: []bool{true, true}, fires: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			fires := 0
			tm := l.AfterFunc(20*time.Millisecond, func() { fires++ })
			fire := func() {
				// Arm a marker after tm's deadline and run until it fires.
				done := false
				l.AfterFunc(25*time.Millisecond, func() { done = true })
				deadline := time.Now().Add(slack)
				for !done && time.Now().Before(deadline) {
					l.RunOnce(true)
				}
			}
			got := tc.act(l, tm, fire)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("reported %v, want %v", got, tc.want)
			}
			if fires != tc.fires {
				t.Fatalf("fired %d times, want %d", fires, tc.fires)
			}
		})
	}
}

// TestTimerCallbacks: what a callback may do to its own timer and others.
func TestTimerCallbacks(t *testing.T) {
	t.Run("zero-delay re-arm does not hold the round", func(t *testing.T) {
		l := newLoop(t)
		n := 0
		var tm *Timer
		tm = l.AfterFunc(0, func() { n++; tm.Reset(0) })
		rounds(t, l, 3)
		if n != 3 {
			t.Fatalf("self-rearming timer ran %d times in 3 rounds, want 3", n)
		}
	})
	t.Run("stopping a due timer from another callback", func(t *testing.T) {
		l := newLoop(t)
		var b *Timer
		ran := false
		l.AfterFunc(0, func() { b.Stop() })
		b = l.AfterFunc(time.Nanosecond, func() { ran = true })
		time.Sleep(time.Millisecond)
		rounds(t, l, 2)
		if ran {
			t.Fatal("a timer stopped by an earlier callback of the round still fired")
		}
	})
	t.Run("InitTimer embedded", func(t *testing.T) {
		l := newLoop(t)
		var conn struct {
			idle  Timer
			fired int
		}
		l.InitTimer(&conn.idle, func() { conn.fired++ })
		if conn.idle.Active() {
			t.Fatal("InitTimer armed the timer")
		}
		conn.idle.Reset(0)
		rounds(t, l, 1)
		if conn.fired != 1 {
			t.Fatalf("embedded timer fired %d times", conn.fired)
		}
	})
}

// TestEveryNoDrift: a periodic timer's deadlines stay on the grid of its
// first deadline plus whole periods, whatever the lateness of each run,
// and ticks missed by a slow callback are skipped rather than bunched.
func TestEveryNoDrift(t *testing.T) {
	const period = 10 * time.Millisecond
	const ticks = 20
	l := newLoop(t)
	done := startRun(t, l)
	type tick struct {
		at   time.Duration // since start, test clock
		when int64         // the next deadline after this run
	}
	var got []tick
	var first int64
	var start time.Time
	onLoop(t, l, func() {
		start = time.Now()
		var tm *Timer
		tm = l.Every(period, func() {
			got = append(got, tick{at: time.Since(start), when: tm.when})
			if len(got) == 5 {
				// Late by more than two periods: the next ticks are
				// skipped, not run back to back to catch up.
				time.Sleep(2*period + period/2)
			}
			if len(got) == ticks {
				tm.Stop()
				l.Exit(0)
			}
		})
		first = tm.when
	})
	if err := waitRun(t, done, ticks*period+slack); err != nil {
		t.Fatal(err)
	}
	if len(got) != ticks {
		t.Fatalf("%d ticks, want %d", len(got), ticks)
	}
	own := first // the deadline tick i ran for
	for i, tk := range got {
		if off := tk.when - first; off <= 0 || off%int64(period) != 0 {
			t.Fatalf("tick %d: next deadline %v after the first, not a whole number of periods", i, time.Duration(off))
		}
		if tk.when <= own {
			t.Fatalf("tick %d: deadline did not advance", i)
		}
		// start was taken before Every, so the tick's deadline on the
		// test's clock is no earlier than this.
		if due := time.Duration(own-first) + period; tk.at < due {
			t.Fatalf("tick %d ran at %v, before its deadline %v", i, tk.at, due)
		}
		own = tk.when
	}
	// Ticks 6 on were due on the grid; skipping the missed ones means the
	// gap after the slow tick is more than a period.
	if gap := got[5].when - got[4].when; gap < 2*int64(period) {
		t.Fatalf("after a 25ms stall the next deadline is %v later: missed ticks were not skipped", time.Duration(gap))
	}
	// No cumulative drift: the last tick is late only by its own lateness.
	last := time.Duration(got[ticks-2].when-first) + period
	if el := got[ticks-1].at; el > last+slack {
		t.Fatalf("last tick at %v, %v after its deadline", el, el-last)
	}
}

package shard

import (
	"math"
	"time"
)

// Timer is a one-shot or periodic callback on a Loop's timer heap. It knows
// its index in the heap, so Stop and Reset cost O(log n).
//
// A Timer belongs to its loop: all its methods are loop only. Its zero value
// is not usable; get one from AfterFunc or Every, or embed one in a struct of
// your own and set it up with InitTimer (which saves an allocation per
// connection).
type Timer struct {
	loop   *Loop
	fn     func()
	when   int64 // deadline in nanoseconds since the loop's epoch
	period int64 // 0 for a one-shot timer
	index  int   // position in the heap plus one; 0 when not scheduled
}

// InitTimer prepares t to run fn on l. The timer is stopped until Reset. Loop
// only.
func (l *Loop) InitTimer(t *Timer, fn func()) {
	if t.index != 0 {
		panic("shard: InitTimer on a scheduled timer")
	}
	*t = Timer{loop: l, fn: fn}
}

// AfterFunc runs fn on the loop once, no sooner than d from now. Loop only.
func (l *Loop) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{loop: l, fn: fn}
	t.Reset(d)
	return t
}

// Every runs fn on the loop every period, the first time one period from now.
// Deadlines advance by whole periods from the first one, so lateness does not
// accumulate; a run that is more than a period late skips the missed ticks.
// Loop only.
func (l *Loop) Every(period time.Duration, fn func()) *Timer {
	if period <= 0 {
		panic("shard: Every with a non-positive period")
	}
	t := &Timer{loop: l, fn: fn, period: int64(period)}
	t.Reset(period)
	return t
}

// Stop cancels the timer. It reports whether the timer was scheduled (false
// when it had already fired or been stopped). Loop only.
func (t *Timer) Stop() bool {
	if t.index == 0 {
		return false
	}
	t.loop.timers.remove(t)
	t.loop.stats.timers.Add(-1)
	return true
}

// Reset schedules the timer to fire d from now, whether or not it was
// scheduled before, and reports whether it was. A periodic timer keeps its
// period and continues from the new deadline. Once the loop is closing it
// schedules nothing (the heap is being freed) and only stops the timer.
// Loop only.
func (t *Timer) Reset(d time.Duration) bool {
	l := t.loop
	if l.closing.Load() {
		return t.Stop()
	}
	if d < 0 {
		d = 0
	}
	now := l.clock()
	when := now + int64(d)
	if when < now {
		when = math.MaxInt64 // d is too far off to add: never, in effect
	}
	if t.index != 0 {
		t.when = when
		l.timers.fix(t)
		return true
	}
	t.when = when
	l.timers.push(t)
	l.stats.timers.Add(1)
	return false
}

// Active reports whether the timer is scheduled. Loop only.
func (t *Timer) Active() bool { return t.index != 0 }

// timerHeap is a binary min-heap on when. It does its own sifting rather than
// using container/heap to avoid the interface calls on the hot path.
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	*h = append(*h, t)
	t.index = len(*h)
	h.up(len(*h) - 1)
}

func (h *timerHeap) remove(t *Timer) {
	s := *h
	i := t.index - 1
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		s[i].index = i + 1
	}
	s[last] = nil
	*h = s[:last]
	t.index = 0
	if i != last {
		h.fix(s[i])
	}
}

func (h timerHeap) fix(t *Timer) {
	i := t.index - 1
	if !h.up(i) {
		h.down(i)
	}
}

func (h timerHeap) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			break
		}
		h.swap(i, p)
		i = p
		moved = true
	}
	return moved
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].when < h[l].when {
			m = r
		}
		if h[i].when <= h[m].when {
			return
		}
		h.swap(i, m)
		i = m
	}
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i + 1
	h[j].index = j + 1
}

// runTimers fires the timers due by now. It fires at most as many as the
// heap held when it began, so a callback that re-arms itself with a zero
// delay cannot keep the loop here.
func (l *Loop) runTimers(now int64) {
	l.timerBudget = len(l.timers)
	for !l.safely(l.fireDue, now) {
	}
}

// fireDue pops and runs due timers until none is due or the budget is spent.
// A panic in a callback leaves the heap consistent: the timer was popped or
// re-armed before it ran.
func (l *Loop) fireDue(now int64) {
	for l.timerBudget > 0 && len(l.timers) > 0 && !l.breaking() {
		t := l.timers[0]
		if t.when > now {
			return
		}
		l.timerBudget--
		if t.period > 0 {
			// Advance by whole periods past now: no cumulative drift.
			t.when += t.period * ((now-t.when)/t.period + 1)
			l.timers.down(0)
		} else {
			l.timers.remove(t)
			l.stats.timers.Add(-1)
		}
		t.fn()
	}
}

// timeoutMs is epoll_wait's timeout: -1 without timers, else the time to the
// nearest deadline rounded up to whole milliseconds, so a timer never fires
// early and the loop never spins on a zero timeout waiting for it.
func (l *Loop) timeoutMs() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := l.timers[0].when - l.clock()
	if d <= 0 {
		return 0
	}
	// Round up without adding first: d may be near MaxInt64.
	ms := d / int64(time.Millisecond)
	if d%int64(time.Millisecond) != 0 {
		ms++
	}
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}

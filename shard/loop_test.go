//go:build linux

package shard

import (
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// TestMain fails the package if any test leaves a goroutine behind: a Loop
// starts none of its own, so every goroutine still alive is a test's bug or a
// Run that never returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// slack is how late a timed event may be before a test calls it a failure.
// Two shared cores under -race can stall a goroutine for hundreds of
// milliseconds, so the bound is generous; early is always a failure.
const slack = 2 * time.Second

// newLoop returns a loop that the test's cleanup closes.
func newLoop(t testing.TB, opts ...Option) *Loop {
	t.Helper()
	l, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// run is a Run in progress on a goroutine of its own.
type run struct {
	done chan struct{} // closed when Run has returned
	err  error         // Run's result, set before done is closed
}

// startRun runs l.Run on a goroutine of its own. The cleanup closes the loop
// and waits for Run, so no test leaves a loop goroutine behind.
func startRun(t testing.TB, l *Loop) *run {
	t.Helper()
	r := &run{done: make(chan struct{})}
	go func() {
		// The deferred close still reports if a callback calls
		// runtime.Goexit, which ends this goroutine inside Run.
		r.err = errors.New("Run did not return (runtime.Goexit)")
		defer close(r.done)
		r.err = l.Run()
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case <-r.done:
		case <-time.After(slack):
			t.Errorf("Run still running %v after Close", slack)
		}
	})
	return r
}

// waitRun waits for Run to return and reports its error, failing the test if
// it takes longer than within.
func waitRun(t testing.TB, r *run, within time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// closeFromCallback closes l from one of its callbacks and checks that
// Close returned nil there and that Run, started by startRun as r, then
// returned nil within slack.
func closeFromCallback(t testing.TB, l *Loop, r *run) {
	t.Helper()
	closed := make(chan error, 1)
	if err := l.Submit(func() { closed <- l.Close() }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if err := waitRun(t, r, slack); err != nil {
		t.Fatalf("Run after Close from a callback: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close from a callback: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitAsleep waits until the running loop is about to block in epoll_wait,
// then a little longer so that it is inside the syscall.
func waitAsleep(t testing.TB, l *Loop) {
	t.Helper()
	waitFor(t, slack, "the loop to sleep", l.sleeping.Load)
	time.Sleep(20 * time.Millisecond)
	if !l.sleeping.Load() {
		t.Fatal("the loop woke up with nothing to do")
	}
}

// onLoop runs fn on the running loop and waits for it: the way a test
// reaches loop-only methods while Run owns the loop.
func onLoop(t testing.TB, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { defer close(done); fn() }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	select {
	case <-done:
	case <-time.After(slack):
		t.Fatalf("task did not run within %v", slack)
	}
}

// openFDs lists the process's open file descriptors.
func openFDs(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	var fds []string
	for _, e := range ents {
		fds = append(fds, e.Name())
	}
	// ReadDir's own directory fd shows up in its listing; it is closed now.
	return fds
}

func TestExitAfterEndsRunAfterThatDuration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
	}{
		{name: "zero", after: 0},
		{name: "50ms", after: 50 * time.Millisecond},
		{name: "200ms", after: 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			done := startRun(t, l)
			waitAsleep(t, l)
			start := time.Now()
			l.Exit(tc.after)
			if err := waitRun(t, done, tc.after+slack); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if el := time.Since(start); el < tc.after {
				t.Fatalf("Run returned after %v, before Exit's %v", el, tc.after)
			}
		})
	}
}

// TestWakesFromEpollWait checks that a loop blocked in epoll_wait with no
// timer (an infinite timeout) is woken by each way in from another
// goroutine, well within a second.
func TestWakesFromEpollWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		poke    func(l *Loop, ran chan struct{})
		returns bool // whether Run returns
	}{
		{name: "Submit", poke: func(l *Loop, ran chan struct{}) {
			l.Submit(func() { close(ran) })
		}},
		{name: "Exit", returns: true, poke: func(l *Loop, _ chan struct{}) { l.Exit(0) }},
		{name: "Break", returns: true, poke: func(l *Loop, _ chan struct{}) { l.Break() }},
		{name: "Close", returns: true, poke: func(l *Loop, _ chan struct{}) { go l.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			done := startRun(t, l)
			// Several sleeps in a row, so a wake-up flag left set by the
			// first one would show up as a missed second wake-up.
			rounds := 3
			if tc.returns {
				rounds = 1
			}
			for i := 0; i < rounds; i++ {
				waitAsleep(t, l)
				ran := make(chan struct{})
				start := time.Now()
				tc.poke(l, ran)
				if tc.returns {
					if err := waitRun(t, done, slack); err != nil {
						t.Fatalf("Run: %v", err)
					}
				} else {
					select {
					case <-ran:
					case <-time.After(slack):
						t.Fatalf("round %d: task did not run within %v", i, slack)
					}
				}
				if el := time.Since(start); el > 900*time.Millisecond {
					t.Errorf("round %d: woke after %v", i, el)
				}
			}
		})
	}
}

func TestBreak(t *testing.T) {
	t.Run("from a task leaves the rest for the next Run", func(t *testing.T) {
		l := newLoop(t)
		var ran []int
		l.Submit(func() { ran = append(ran, 1); l.Break() })
		l.Submit(func() { ran = append(ran, 2) })
		if err := l.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !slices.Equal(ran, []int{1}) {
			t.Fatalf("after Break: ran %v, want [1]", ran)
		}
		l.Exit(0)
		if err := l.Run(); err != nil {
			t.Fatalf("second Run: %v", err)
		}
		if !slices.Equal(ran, []int{1, 2}) {
			t.Fatalf("after the second Run: ran %v, want [1 2]", ran)
		}
	})

	// An edge-triggered or one-shot fd is reported once: if Break left its
	// event unread and the next round polled afresh, it would never be
	// reported again and its owner would hang.
	for _, tc := range []struct {
		name string
		ev   Events
	}{
		{name: "level", ev: EventRead},
		{name: "edge", ev: EventRead | EventEdge},
		{name: "one-shot", ev: EventRead | EventOneShot},
	} {
		t.Run("mid-dispatch keeps "+tc.name+" events for the next round", func(t *testing.T) {
			l := newLoop(t)
			calls := map[int]int{}
			h := HandlerFunc(func(fd int, ev Events) {
				calls[fd]++
				l.Break()
			})
			var fds []int
			for i := 0; i < 3; i++ {
				r, w := newPipe(t)
				writeByte(t, w)
				if err := l.Watch(r, tc.ev, h); err != nil {
					t.Fatalf("Watch: %v", err)
				}
				fds = append(fds, r)
			}
			for round := 1; round <= 3; round++ {
				// Non-blocking, so a lost event fails rather than hangs.
				rounds(t, l, 1)
				if got := len(calls); got != round {
					t.Fatalf("after %d broken rounds %d fds were served, want %d", round, got, round)
				}
			}
			for _, fd := range fds {
				if calls[fd] != 1 {
					t.Fatalf("fd %d served %d times, want once: %v", fd, calls[fd], calls)
				}
			}
		})
	}

	t.Run("from another goroutine during a long callback", func(t *testing.T) {
		l := newLoop(t)
		done := startRun(t, l)
		inside := make(chan struct{})
		release := make(chan struct{})
		var after atomic.Bool
		l.Submit(func() { close(inside); <-release })
		l.Submit(func() { after.Store(true) })
		<-inside
		l.Break()
		close(release)
		if err := waitRun(t, done, slack); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if after.Load() {
			t.Fatal("a task queued behind the breaking one ran in the same Run")
		}
	})
}

func TestRunTwiceAtOnce(t *testing.T) {
	l := newLoop(t)
	inside := make(chan struct{})
	release := make(chan struct{})
	l.Submit(func() { close(inside); <-release })
	done := startRun(t, l)
	<-inside
	if err := l.Run(); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	if err := l.RunOnce(false); !errors.Is(err, ErrRunning) {
		t.Errorf("RunOnce during Run: %v, want ErrRunning", err)
	}
	close(release)
	l.Break()
	waitRun(t, done, slack)
}

// TestCloseReleasesEverything closes loops in each state they can be in and
// checks that the process has the same fds afterwards. Goroutine leaks are
// caught by TestMain.
func TestCloseReleasesEverything(t *testing.T) {
	// The runtime opens its own epoll fd and pipe on first use of the
	// network poller; take the baseline after they exist.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	before := openFDs(t)

	for _, tc := range []struct {
		name string
		use  func(t *testing.T, l *Loop)
	}{
		{name: "never run", use: func(t *testing.T, l *Loop) {}},
		{name: "after RunOnce", use: func(t *testing.T, l *Loop) {
			l.Submit(func() {})
			l.RunOnce(false)
		}},
		{name: "with timers and queued tasks", use: func(t *testing.T, l *Loop) {
			l.AfterFunc(time.Hour, func() {})
			l.Every(time.Hour, func() {})
			l.Submit(func() { t.Error("a task queued before Close ran") })
		}},
		{name: "while Run sleeps", use: func(t *testing.T, l *Loop) {
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			waitAsleep(t, l)
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			// Close waited for Run to let go of the loop; Run's
			// goroutine may still be on its way out.
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(slack):
				t.Error("Run did not return after Close")
			}
		}},
		{name: "from a callback", use: func(t *testing.T, l *Loop) {
			l.Submit(func() { l.Close() })
			if err := l.Run(); err != nil {
				t.Errorf("Run: %v", err)
			}
		}},
		{name: "with watched fds", use: func(t *testing.T, l *Loop) {
			r, w := newPipe(t)
			l.Watch(r, EventRead, HandlerFunc(func(int, Events) {}))
			l.Watch(w, EventWrite, HandlerFunc(func(int, Events) {}))
			l.RunOnce(false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New()
			if err != nil {
				t.Fatal(err)
			}
			tc.use(t, l)
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if s := l.Stats(); s.Watched != 0 || s.Timers != 0 || s.TasksQueued != 0 {
				t.Fatalf("after Close: %+v", s)
			}
		})
	}
	// The pipes made by the subtests are closed by their cleanups, which
	// have run by now.
	if after := openFDs(t); !slices.Equal(before, after) {
		t.Fatalf("open fds before %v, after %v", before, after)
	}
}

func TestAfterClose(t *testing.T) {
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	h := HandlerFunc(func(int, Events) {})
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{name: "Submit", op: func() error { return l.Submit(func() {}) }},
		{name: "Run", op: l.Run},
		{name: "RunOnce", op: func() error { return l.RunOnce(false) }},
		{name: "Watch", op: func() error { return l.Watch(0, EventRead, h) }},
		{name: "Modify", op: func() error { return l.Modify(0, EventRead) }},
		{name: "Unwatch", op: func() error { return l.Unwatch(0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close: %v, want ErrClosed", tc.name, err)
			}
		})
	}
	// These have no error to return; they must simply not panic or block.
	l.Exit(0)
	l.Exit(time.Millisecond)
	l.Break()
	// A timer armed on a closed loop is never scheduled.
	tm := l.AfterFunc(time.Millisecond, func() { t.Error("timer on a closed loop fired") })
	if tm.Active() || l.Stats().Timers != 0 {
		t.Fatalf("AfterFunc after Close: active %v, Stats.Timers %d", tm.Active(), l.Stats().Timers)
	}
}

// TestCloseFromCallback closes the loop from each kind of callback: Close
// must not wait for the loop it is running on, the rest of the round must not
// run, and Submit from then on must fail.
func TestCloseFromCallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(t *testing.T, l *Loop, cb func())
	}{
		{name: "task", arm: func(t *testing.T, l *Loop, cb func()) { l.Submit(cb) }},
		{name: "timer", arm: func(t *testing.T, l *Loop, cb func()) { l.AfterFunc(time.Millisecond, cb) }},
		{name: "fd handler", arm: func(t *testing.T, l *Loop, cb func()) {
			r, w := newPipe(t)
			writeByte(t, w)
			l.Watch(r, EventRead, HandlerFunc(func(int, Events) { cb() }))
		}},
	} {
		for _, mode := range []string{"Run", "RunOnce"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				l := newLoop(t)
				var submitErr error
				tc.arm(t, l, func() {
					if err := l.Close(); err != nil {
						t.Errorf("Close from a callback: %v", err)
					}
					submitErr = l.Submit(func() { t.Error("a task submitted after Close ran") })
				})
				l.Submit(func() {}) // queued behind, dropped by Close
				r := &run{done: make(chan struct{})}
				go func() {
					defer close(r.done)
					if mode == "Run" {
						r.err = l.Run()
						return
					}
					for r.err == nil {
						r.err = l.RunOnce(true)
					}
				}()
				err := waitRun(t, r, slack)
				if mode == "Run" && err != nil {
					t.Fatalf("Run: %v", err)
				}
				if mode == "RunOnce" && !errors.Is(err, ErrClosed) {
					t.Fatalf("RunOnce after Close: %v, want ErrClosed", err)
				}
				if !errors.Is(submitErr, ErrClosed) {
					t.Fatalf("Submit after Close in the same callback: %v, want ErrClosed", submitErr)
				}
				if err := l.Close(); err != nil {
					t.Fatalf("Close after Run: %v", err)
				}
			})
		}
	}
}

// TestSubmitRacingClose submits from many goroutines while another closes
// the loop: every Submit that succeeded has its task run or counted as
// dropped, and every Submit after Close returned fails.
func TestSubmitRacingClose(t *testing.T) {
	for i := 0; i < 20; i++ {
		l, err := New()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		var accepted, ran atomic.Uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if l.Submit(func() { ran.Add(1) }) == nil {
						accepted.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := l.Submit(func() {}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Submit after Close returned: %v, want ErrClosed", err)
		}
		close(stop)
		wg.Wait()
		// Run may not have begun before Close, and then it refuses.
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("Run: %v", err)
		}
		s := l.Stats()
		if got := ran.Load() + s.TasksDropped; got != accepted.Load() {
			t.Fatalf("accepted %d tasks, ran %d + dropped %d", accepted.Load(), ran.Load(), s.TasksDropped)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   Option
		field string // what the error must name
	}{
		{name: "cpu", opt: WithCPU(-2), field: "WithCPU"},
		{name: "events zero", opt: WithEventsPerWait(0), field: "WithEventsPerWait"},
		{name: "events huge", opt: WithEventsPerWait(1<<16 + 1), field: "WithEventsPerWait"},
		{name: "max tasks", opt: WithMaxTasksPerRound(0), field: "WithMaxTasksPerRound"},
		{name: "queue limit", opt: WithTaskQueueLimit(-1), field: "WithTaskQueueLimit"},
		{name: "panic handler", opt: WithPanicHandler(nil), field: "WithPanicHandler"},
		{name: "busy poll", opt: WithBusyPoll(-time.Millisecond), field: "WithBusyPoll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.opt)
			if err == nil {
				l.Close()
				t.Fatal("New accepted an invalid option")
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("error %v is not ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		newLoop(t, WithCPU(3), WithEventsPerWait(1), WithMaxTasksPerRound(1),
			WithTaskQueueLimit(1), WithPanicHandler(func(any, []byte) {}))
	})
}

func TestWithCPU(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var allowed []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			allowed = append(allowed, cpu)
		}
	}
	t.Run("unpinned", func(t *testing.T) {
		l := newLoop(t)
		if c := l.CPU(); c != -1 {
			t.Fatalf("CPU before Run = %d, want -1", c)
		}
		startRun(t, l)
		waitFor(t, slack, "CPU to be known", func() bool { return l.CPU() >= 0 })
		if c := l.CPU(); !slices.Contains(allowed, c) {
			t.Fatalf("CPU() = %d, not in the allowed set %v", c, allowed)
		}
	})
	for _, index := range []int{0, len(allowed) - 1, len(allowed), 2*len(allowed) + 1} {
		want := allowed[index%len(allowed)]
		t.Run("index="+strconv.Itoa(index), func(t *testing.T) {
			l := newLoop(t, WithCPU(index))
			startRun(t, l)
			var got unix.CPUSet
			var err error
			onLoop(t, l, func() { err = unix.SchedGetaffinity(0, &got) })
			if err != nil {
				t.Fatal(err)
			}
			if got.Count() != 1 || !got.IsSet(want) {
				t.Fatalf("loop thread's affinity %v, want only CPU %d", got, want)
			}
			if c := l.CPU(); c != want {
				t.Fatalf("CPU() = %d, want %d", c, want)
			}
		})
	}
	// The pinned threads died with their Run goroutines: this one is
	// unpinned.
	var mine unix.CPUSet
	unix.SchedGetaffinity(0, &mine)
	if mine != set {
		t.Fatalf("the test's own thread changed affinity to %v", mine)
	}
}

func TestStats(t *testing.T) {
	l := newLoop(t, WithPanicHandler(func(any, []byte) {}))
	if s := l.Stats(); s != (Stats{}) {
		t.Fatalf("new loop: %+v, want zeros", s)
	}
	r, w := newPipe(t)
	h := HandlerFunc(func(int, Events) {})
	l.Watch(r, EventRead, h)
	l.Watch(w, EventWrite, h)
	tm := l.AfterFunc(time.Hour, func() {})
	l.Every(time.Hour, func() {})
	for i := 0; i < 5; i++ {
		l.Submit(func() {})
	}
	l.Submit(func() { panic("counted") })
	s := l.Stats()
	if s.Watched != 2 || s.Timers != 2 || s.TasksQueued != 6 || s.TasksRun != 0 {
		t.Fatalf("before a round: %+v", s)
	}
	l.Submit(func() { time.Sleep(5 * time.Millisecond) })
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	s = l.Stats()
	switch {
	case s.TasksRun != 7 || s.TasksQueued != 0:
		t.Fatalf("tasks after a round: run %d queued %d, want 7 and 0", s.TasksRun, s.TasksQueued)
	case s.Iterations != 1:
		t.Fatalf("Iterations = %d, want 1", s.Iterations)
	case s.Panics != 1:
		t.Fatalf("Panics = %d, want 1", s.Panics)
	case s.Busy < 5*time.Millisecond:
		t.Fatalf("Busy = %v after a 5ms task", s.Busy)
	case s.Lag != 0:
		t.Fatalf("Lag = %v between rounds", s.Lag)
	}
	tm.Stop()
	l.Unwatch(w)
	if s := l.Stats(); s.Timers != 1 || s.Watched != 1 {
		t.Fatalf("after Stop and Unwatch: timers %d watched %d, want 1 and 1", s.Timers, s.Watched)
	}

	// Tasks that wait behind the per-round cap are still queued.
	l2 := newLoop(t, WithMaxTasksPerRound(2))
	for i := 0; i < 5; i++ {
		l2.Submit(func() {})
	}
	l2.RunOnce(false)
	if s := l2.Stats(); s.TasksRun != 2 || s.TasksQueued != 3 {
		t.Fatalf("with a cap of 2: run %d queued %d, want 2 and 3", s.TasksRun, s.TasksQueued)
	}

	// Lag shows a callback that blocks the loop.
	l3 := newLoop(t)
	startRun(t, l3)
	release := make(chan struct{})
	l3.Submit(func() { <-release })
	waitFor(t, slack, "Lag to grow", func() bool { return l3.Stats().Lag >= 20*time.Millisecond })
	close(release)

	// Close drops what is queued and counts it.
	l4, _ := New()
	l4.Submit(func() {})
	l4.Submit(func() {})
	l4.Close()
	if s := l4.Stats(); s.TasksDropped != 2 || s.TasksRun != 0 {
		t.Fatalf("after Close: dropped %d run %d, want 2 and 0", s.TasksDropped, s.TasksRun)
	}
}

// TestTwoLoopsIndependent runs two loops side by side: breaking or closing
// one leaves the other serving.
func TestTwoLoopsIndependent(t *testing.T) {
	a, b := newLoop(t), newLoop(t)
	doneA := startRun(t, a)
	startRun(t, b)
	a.Break()
	waitRun(t, doneA, slack)
	onLoop(t, b, func() {})
	a.Close()
	onLoop(t, b, func() {})
}

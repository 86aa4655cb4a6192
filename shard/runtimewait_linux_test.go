package shard

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shardnet/shardnet/internal/threadcheck"
	"golang.org/x/sys/unix"
)

// runtimeWaitModes are the two shapes of WithRuntimeWait: unpinned (the
// goroutine leaves its thread while parked) and pinned (it stays locked).
var runtimeWaitModes = []struct {
	name string
	opts []Option
}{
	{name: "unpinned", opts: []Option{WithRuntimeWait(true)}},
	{name: "pinned", opts: []Option{WithRuntimeWait(true), WithCPU(0)}},
}

// TestRuntimeWaitParksOffTheSyscall: an idle loop with WithRuntimeWait has
// no thread in epoll_wait on its epoll fd; without it, one thread is.
func TestRuntimeWaitParksOffTheSyscall(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want int
	}{
		{name: "blocking epoll_wait", want: 1},
		{name: "runtime wait", opts: []Option{WithRuntimeWait(true)}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, tc.opts...)
			startRun(t, l)
			waitAsleep(t, l)
			got := 0
			// A thread reads as in the syscall only once it is blocked:
			// look a few times.
			for range 20 {
				if got = threadcheck.InEpollWait(t, l.poller.epfd); got == tc.want {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got != tc.want {
				t.Fatalf("%d threads in epoll_pwait on the loop's epoll fd, want %d", got, tc.want)
			}
			if tc.want == 0 && l.OSThread() != 0 {
				t.Errorf("OSThread %d while parked unpinned, want 0", l.OSThread())
			}
		})
	}
}

// TestRuntimeWaitWakes: a parked loop is woken by each way in from another
// goroutine and by a ready fd, several times in a row.
func TestRuntimeWaitWakes(t *testing.T) {
	for _, m := range runtimeWaitModes {
		for _, tc := range []struct {
			name    string
			poke    func(t *testing.T, l *Loop, ran chan struct{})
			returns bool
		}{
			{name: "Submit", poke: func(t *testing.T, l *Loop, ran chan struct{}) { l.Submit(func() { close(ran) }) }},
			{name: "fd", poke: func(t *testing.T, l *Loop, ran chan struct{}) {
				r, w := newPipe(t)
				onLoop(t, l, func() {
					if err := l.Watch(r, EventRead, HandlerFunc(func(fd int, _ Events) {
						var b [1]byte
						unix.Read(fd, b[:])
						l.Unwatch(fd)
						close(ran)
					})); err != nil {
						t.Errorf("Watch: %v", err)
					}
				})
				waitAsleep(t, l)
				writeByte(t, w)
			}},
			{name: "Exit", returns: true, poke: func(_ *testing.T, l *Loop, _ chan struct{}) { l.Exit(0) }},
			{name: "Break", returns: true, poke: func(_ *testing.T, l *Loop, _ chan struct{}) { l.Break() }},
			{name: "Close", returns: true, poke: func(_ *testing.T, l *Loop, _ chan struct{}) { go l.Close() }},
		} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				l := newLoop(t, m.opts...)
				done := startRun(t, l)
				rounds := 3
				if tc.returns {
					rounds = 1
				}
				for i := range rounds {
					waitAsleep(t, l)
					ran := make(chan struct{})
					tc.poke(t, l, ran)
					if tc.returns {
						if err := waitRun(t, done, slack); err != nil {
							t.Fatalf("Run: %v", err)
						}
						continue
					}
					select {
					case <-ran:
					case <-time.After(slack):
						t.Fatalf("round %d: not woken within %v", i, slack)
					}
				}
			})
		}
	}
}

// TestRuntimeWaitTimers: timers end a park at their deadline, never before
// it, whether the nearest deadline moves earlier, later, or away and back
// (a deadline that expired must not leave the next park failing at once).
func TestRuntimeWaitTimers(t *testing.T) {
	for _, m := range runtimeWaitModes {
		t.Run(m.name, func(t *testing.T) {
			l := newLoop(t, m.opts...)
			startRun(t, l)
			type shot struct {
				want, got time.Duration
			}
			fired := make(chan shot, 16)
			arm := func(d time.Duration) {
				start := time.Now()
				l.AfterFunc(d, func() { fired <- shot{d, time.Since(start)} })
			}
			check := func(n int) {
				t.Helper()
				for range n {
					select {
					case s := <-fired:
						if s.got < s.want {
							t.Errorf("%v timer fired after %v", s.want, s.got)
						}
					case <-time.After(slack + 200*time.Millisecond):
						t.Fatal("a timer did not fire")
					}
				}
			}
			onLoop(t, l, func() { arm(80 * time.Millisecond); arm(20 * time.Millisecond) })
			check(2)
			// No timer now: the park has no deadline, and a task still wakes it.
			waitAsleep(t, l)
			onLoop(t, l, func() {})
			onLoop(t, l, func() { arm(30 * time.Millisecond) })
			check(1)
			// A periodic timer, then a stopped one that was the nearest.
			var ticks sync.WaitGroup
			ticks.Add(3)
			var tk *Timer
			n := 0
			onLoop(t, l, func() {
				tk = l.Every(5*time.Millisecond, func() {
					if n++; n <= 3 {
						ticks.Done()
					}
				})
			})
			ticks.Wait()
			onLoop(t, l, func() {
				tk.Stop()
				early := l.AfterFunc(10*time.Millisecond, func() { t.Error("a stopped timer fired") })
				arm(40 * time.Millisecond)
				early.Stop()
			})
			check(1)
		})
	}
}

// TestRuntimeWaitNoLostWakeups: producers ping a parked loop in turn; every
// ping is answered (the wake-up crosses from the eventfd to the runtime's
// poller without being lost), with and without a fast ticker.
func TestRuntimeWaitNoLostWakeups(t *testing.T) {
	pings := 3000
	if testing.Short() {
		pings = 200
	}
	for _, m := range runtimeWaitModes {
		for _, ticker := range []bool{false, true} {
			t.Run(m.name+"/ticker="+strconv.FormatBool(ticker), func(t *testing.T) {
				l := newLoop(t, m.opts...)
				if ticker {
					l.Every(time.Millisecond, func() {})
				}
				startRun(t, l)
				var wg sync.WaitGroup
				for range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						back := make(chan struct{}, 1)
						task := func() { back <- struct{}{} }
						for i := range pings {
							if err := l.Submit(task); err != nil {
								t.Errorf("Submit: %v", err)
								return
							}
							select {
							case <-back:
							case <-time.After(slack):
								t.Errorf("ping %d: no answer within %v (lost wake-up)", i, slack)
								return
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// TestRuntimeWaitPipePingPong: two loops, each parked between messages,
// bounce a byte over a pair of pipes; every message arrives (readiness
// reported through the nested epoll is not lost).
func TestRuntimeWaitPipePingPong(t *testing.T) {
	const msgs = 2000
	a, b := newLoop(t, WithRuntimeWait(true)), newLoop(t, WithRuntimeWait(true))
	ar, bw := newPipe(t)
	br, aw := newPipe(t)
	var got int
	done := make(chan struct{})
	bounce := func(l *Loop, r, w int, count bool) {
		if err := l.Watch(r, EventRead, HandlerFunc(func(fd int, _ Events) {
			var buf [64]byte
			n, _ := unix.Read(fd, buf[:])
			for range n {
				if count {
					if got++; got == msgs {
						close(done)
						return
					}
				}
				unix.Write(w, []byte{1})
			}
		})); err != nil {
			t.Fatalf("Watch: %v", err)
		}
	}
	bounce(a, ar, aw, true)
	bounce(b, br, bw, false)
	startRun(t, a)
	startRun(t, b)
	writeByte(t, aw) // b reads it and answers to a
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d messages arrived", got, msgs)
	}
}

// TestRuntimeWaitCloseReleasesEverything: Close frees the epoll fd once
// (through its *os.File), in every state; a second Close does not close a
// reused fd number.
func TestRuntimeWaitCloseReleasesEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the runtime's own poller fds exist from here on
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	before := openFDs(t)
	for _, tc := range []struct {
		name string
		use  func(t *testing.T, l *Loop)
	}{
		{name: "never run", use: func(*testing.T, *Loop) {}},
		{name: "while Run parks", use: func(t *testing.T, l *Loop) {
			l.AfterFunc(time.Hour, func() {}) // a deadline is set on the file
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			waitAsleep(t, l)
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}},
		{name: "from a callback", use: func(t *testing.T, l *Loop) {
			l.AfterFunc(time.Millisecond, func() { l.Close() })
			if err := l.Run(); err != nil {
				t.Errorf("Run: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(WithRuntimeWait(true))
			if err != nil {
				t.Fatal(err)
			}
			tc.use(t, l)
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// The lowest free numbers now include the loop's old ones.
			r, w := newPipe(t)
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			for _, fd := range []int{r, w} {
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
					t.Fatalf("pipe fd %d closed by the second Close: %v", fd, err)
				}
			}
		})
	}
	if after := openFDs(t); !slices.Equal(before, after) {
		t.Fatalf("open fds before %v, after %v", before, after)
	}
}

// TestRuntimeWaitRunOnce: RunOnce(true) parks too, and returns at the
// nearest timer.
func TestRuntimeWaitRunOnce(t *testing.T) {
	l := newLoop(t, WithRuntimeWait(true))
	fired := false
	start := time.Now()
	l.AfterFunc(30*time.Millisecond, func() { fired = true })
	for !fired && time.Since(start) < slack {
		if err := l.RunOnce(true); err != nil && !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); !fired || el < 30*time.Millisecond {
		t.Fatalf("fired %v after %v", fired, el)
	}
}

// TestRuntimeWaitLevelTriggeredLeftReady: a level-triggered fd whose handler
// leaves bytes unread is reported again in the next round, with no new
// bytes written. The kernel wakes the runtime's poller (which watches the
// loop's epoll fd edge-triggered) only when an event is added to the loop's
// ready list, and a level-triggered fd that stays ready adds none: only the
// zero-timeout poll before each park (pollReady's first call) reports it.
// Without that poll the loop would park with the bytes unread and this test
// would time out.
func TestRuntimeWaitLevelTriggeredLeftReady(t *testing.T) {
	const bytes = 5
	for _, m := range runtimeWaitModes {
		t.Run(m.name, func(t *testing.T) {
			l := newLoop(t, m.opts...)
			r, w := newPipe(t)
			reads := make(chan int, bytes)
			done := startRun(t, l)
			onLoop(t, l, func() {
				if err := l.Watch(r, EventRead, HandlerFunc(func(fd int, _ Events) {
					var b [1]byte // one byte per round: the rest stays queued
					if n, _ := unix.Read(fd, b[:]); n == 1 {
						reads <- 1
					}
				})); err != nil {
					t.Errorf("Watch: %v", err)
				}
			})
			waitAsleep(t, l)
			if n, err := unix.Write(w, make([]byte, bytes)); n != bytes || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			for i := range bytes {
				select {
				case <-reads:
				case <-time.After(slack):
					t.Fatalf("%d of %d bytes read: the fd left ready was not reported again", i, bytes)
				}
			}
			// Drained, the loop parks again; a new byte still wakes it.
			waitAsleep(t, l)
			writeByte(t, w)
			select {
			case <-reads:
			case <-time.After(slack):
				t.Fatal("a byte written after the loop parked again did not wake it")
			}
			l.Exit(0)
			if err := waitRun(t, done, slack); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

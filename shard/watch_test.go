//go:build linux

package shard

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// newPipe returns a non-blocking pipe that the test's cleanup closes.
func newPipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// watchDrain watches r for reading with a handler that reads what is
// there and, when read is not nil, signals it (never blocking the loop: a
// signal already waiting stands for this one too).
func watchDrain(t testing.TB, l *Loop, r int, read chan<- struct{}) {
	t.Helper()
	if err := l.Watch(r, EventRead, HandlerFunc(func(fd int, _ Events) {
		var b [64]byte
		unix.Read(fd, b[:])
		if read != nil {
			select {
			case read <- struct{}{}:
			default:
			}
		}
	})); err != nil {
		t.Fatal(err)
	}
}

// newSocketpair returns a connected non-blocking stream socketpair that the
// test's cleanup closes.
func newSocketpair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func writeByte(t testing.TB, fd int) {
	t.Helper()
	if _, err := unix.Write(fd, []byte{'x'}); err != nil {
		t.Fatalf("write fd %d: %v", fd, err)
	}
}

// drain reads fd until it would block.
func drain(t testing.TB, fd int) {
	t.Helper()
	var buf [64 << 10]byte
	for {
		_, err := unix.Read(fd, buf[:])
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			t.Fatalf("read fd %d: %v", fd, err)
		}
	}
}

// fill writes to fd until its buffer is full.
func fill(t testing.TB, fd int) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		_, err := unix.Write(fd, buf)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			t.Fatalf("write fd %d: %v", fd, err)
		}
	}
}

// recorder is a Handler that keeps what it was told.
type recorder struct {
	calls int
	last  Events
}

func (r *recorder) HandleEvents(_ int, ev Events) { r.calls++; r.last = ev }

// rounds runs n non-blocking rounds: readiness that exists is seen, and
// nothing waits.
func rounds(t testing.TB, l *Loop, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := l.RunOnce(false); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
	}
}

// TestReadiness drives each kind of fd through readiness changes in level,
// edge and one-shot modes, counting reports after each step. Rounds are
// non-blocking, so a missing report is a failure, never a hang.
func TestReadiness(t *testing.T) {
	type step struct {
		do    func(t *testing.T, l *Loop, watched, peer int)
		calls int    // reports in the 3 rounds after do
		has   Events // what the last report must include
	}
	write := func(t *testing.T, _ *Loop, _, peer int) { writeByte(t, peer) }
	read := func(t *testing.T, _ *Loop, fd, _ int) { drain(t, fd) }
	nothing := func(*testing.T, *Loop, int, int) {}
	for _, tc := range []struct {
		name  string
		pipe  bool // a pipe (watched end chosen by ev), else a socketpair
		ev    Events
		steps []step
	}{
		{name: "socket read level", ev: EventRead, steps: []step{
			{do: nothing, calls: 0},
			{do: write, calls: 3, has: EventRead}, // reported while it holds
			{do: read, calls: 0},
		}},
		{name: "socket read edge", ev: EventRead | EventEdge, steps: []step{
			{do: nothing, calls: 0},
			{do: write, calls: 1, has: EventRead}, // once per arrival
			{do: write, calls: 1, has: EventRead},
			{do: read, calls: 0},
		}},
		{name: "socket read one-shot", ev: EventRead | EventOneShot, steps: []step{
			{do: write, calls: 1, has: EventRead},
			{do: write, calls: 0}, // disarmed
			{do: func(t *testing.T, l *Loop, fd, _ int) {
				if err := l.Modify(fd, EventRead|EventOneShot); err != nil {
					t.Fatal(err)
				}
			}, calls: 1, has: EventRead}, // re-armed, still readable
			{do: nothing, calls: 0},
		}},
		{name: "socket write level", ev: EventWrite, steps: []step{
			{do: nothing, calls: 3, has: EventWrite},
			{do: func(t *testing.T, _ *Loop, fd, _ int) { fill(t, fd) }, calls: 0},
			{do: func(t *testing.T, _ *Loop, _, peer int) { drain(t, peer) }, calls: 3, has: EventWrite},
		}},
		{name: "socket write edge", ev: EventWrite | EventEdge, steps: []step{
			{do: nothing, calls: 1, has: EventWrite},
			{do: func(t *testing.T, _ *Loop, fd, _ int) { fill(t, fd) }, calls: 0},
			{do: func(t *testing.T, _ *Loop, _, peer int) { drain(t, peer) }, calls: 1, has: EventWrite},
		}},
		{name: "socket write one-shot", ev: EventWrite | EventOneShot, steps: []step{
			{do: nothing, calls: 1, has: EventWrite},
			{do: func(t *testing.T, l *Loop, fd, _ int) { l.Modify(fd, EventWrite|EventOneShot) }, calls: 1, has: EventWrite},
		}},
		{name: "socket modify read to write", ev: EventRead, steps: []step{
			{do: nothing, calls: 0},
			{do: func(t *testing.T, l *Loop, fd, _ int) { l.Modify(fd, EventWrite) }, calls: 3, has: EventWrite},
			{do: func(t *testing.T, l *Loop, fd, _ int) { l.Modify(fd, EventRead) }, calls: 0},
		}},
		{name: "socket peer half-close", ev: EventRead | EventPeerClosed | EventEdge, steps: []step{
			{do: func(t *testing.T, _ *Loop, _, peer int) { unix.Shutdown(peer, unix.SHUT_WR) }, calls: 1, has: EventRead | EventPeerClosed},
		}},
		{name: "pipe read level", pipe: true, ev: EventRead, steps: []step{
			{do: nothing, calls: 0},
			{do: write, calls: 3, has: EventRead},
			{do: read, calls: 0},
		}},
		{name: "pipe read edge", pipe: true, ev: EventRead | EventEdge, steps: []step{
			{do: write, calls: 1, has: EventRead},
			{do: nothing, calls: 0},
			{do: write, calls: 1, has: EventRead},
		}},
		{name: "pipe read one-shot", pipe: true, ev: EventRead | EventOneShot, steps: []step{
			{do: write, calls: 1, has: EventRead},
			{do: write, calls: 0},
			{do: func(t *testing.T, l *Loop, fd, _ int) { l.Modify(fd, EventRead|EventOneShot) }, calls: 1, has: EventRead},
		}},
		{name: "pipe writer closed", pipe: true, ev: EventRead, steps: []step{
			{do: func(t *testing.T, _ *Loop, _, peer int) { unix.Close(peer) }, calls: 3, has: EventHup},
		}},
		{name: "pipe write level", pipe: true, ev: EventWrite, steps: []step{
			{do: nothing, calls: 3, has: EventWrite},
			{do: func(t *testing.T, _ *Loop, fd, _ int) { fill(t, fd) }, calls: 0},
			{do: func(t *testing.T, _ *Loop, _, peer int) { drain(t, peer) }, calls: 3, has: EventWrite},
		}},
		{name: "pipe write edge", pipe: true, ev: EventWrite | EventEdge, steps: []step{
			{do: nothing, calls: 1, has: EventWrite},
			{do: func(t *testing.T, _ *Loop, fd, _ int) { fill(t, fd) }, calls: 0},
			{do: func(t *testing.T, _ *Loop, _, peer int) { drain(t, peer) }, calls: 1, has: EventWrite},
		}},
		{name: "pipe reader closed", pipe: true, ev: EventWrite | EventEdge, steps: []step{
			{do: nothing, calls: 1, has: EventWrite},
			{do: func(t *testing.T, _ *Loop, _, peer int) { unix.Close(peer) }, calls: 1, has: EventErr},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			var fd, peer int
			if tc.pipe {
				r, w := newPipe(t)
				fd, peer = r, w
				if tc.ev&EventWrite != 0 {
					fd, peer = w, r
				}
			} else {
				fd, peer = newSocketpair(t)
			}
			rec := &recorder{}
			if err := l.Watch(fd, tc.ev, rec); err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if ev, ok := l.Watching(fd); !ok || ev != tc.ev {
				t.Fatalf("Watching = %#x, %v; want %#x, true", ev, ok, tc.ev)
			}
			for i, s := range tc.steps {
				rec.calls, rec.last = 0, 0
				s.do(t, l, fd, peer)
				rounds(t, l, 3)
				if rec.calls != s.calls {
					t.Fatalf("step %d: %d reports in 3 rounds, want %d", i, rec.calls, s.calls)
				}
				if rec.last&s.has != s.has {
					t.Fatalf("step %d: reported %#x, want %#x in it", i, rec.last, s.has)
				}
			}
			if err := l.Unwatch(fd); err != nil {
				t.Fatalf("Unwatch: %v", err)
			}
			if _, ok := l.Watching(fd); ok {
				t.Fatal("still Watching after Unwatch")
			}
		})
	}
}

// TestUnwatchInSameRound makes two fds ready in one round. Whichever handler
// runs first unwatches the other (or changes its interest to write only):
// the other's read event, already in this round's list, must not be
// delivered. With reuse, the first handler also closes the
// other fd, puts a new readable file on the same number and watches it: the
// stale event must not reach the new owner either.
func TestUnwatchInSameRound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reuse  bool
		modify bool // Modify the other fd to write-only instead of Unwatch
	}{
		{name: "unwatch"},
		{name: "unwatch close reuse rewatch", reuse: true},
		{name: "modify away the reported interest", modify: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			a, aw := newPipe(t)
			b, bw := newSocketpair(t)
			writeByte(t, aw)
			writeByte(t, bw)
			spare, spareW := newPipe(t)
			writeByte(t, spareW) // the new file is readable at once

			var first, second, newOwner int // calls in the first round
			round := uint64(0)
			var newOwnerRound []uint64
			h := func(self, other int) Handler {
				return HandlerFunc(func(fd int, ev Events) {
					if l.Stats().Iterations != round {
						return // later rounds do not matter
					}
					if first != 0 {
						second = fd
						return
					}
					first = fd
					if l.evN != 2 {
						t.Errorf("%d events in the round, want both fds", l.evN)
					}
					if tc.modify {
						if err := l.Modify(other, EventWrite|EventOneShot); err != nil {
							t.Errorf("Modify: %v", err)
						}
						return
					}
					if err := l.Unwatch(other); err != nil {
						t.Errorf("Unwatch: %v", err)
					}
					if !tc.reuse {
						return
					}
					if err := unix.Dup3(spare, other, unix.O_CLOEXEC); err != nil {
						t.Errorf("dup3 onto fd %d: %v", other, err)
						return
					}
					err := l.Watch(other, EventRead, HandlerFunc(func(int, Events) {
						newOwner++
						newOwnerRound = append(newOwnerRound, l.Stats().Iterations)
					}))
					if err != nil {
						t.Errorf("Watch of the reused fd: %v", err)
					}
				})
			}
			l.Watch(a, EventRead, h(a, b))
			l.Watch(b, EventRead, h(b, a))
			rounds(t, l, 1)
			if first == 0 {
				t.Fatal("neither handler ran")
			}
			if second != 0 {
				t.Fatalf("fd %d got an event in the round that unwatched it", second)
			}
			if !tc.reuse {
				return
			}
			if len(newOwnerRound) > 0 && newOwnerRound[0] == round {
				t.Fatal("the new owner of a reused fd got the old file's event")
			}
			// The new owner is served from the next round on.
			rounds(t, l, 1)
			if newOwner != 1 {
				t.Fatalf("new owner served %d times in the next round, want 1", newOwner)
			}
		})
	}
}

func TestWatchErrors(t *testing.T) {
	l := newLoop(t)
	r, _ := newPipe(t)
	h := HandlerFunc(func(int, Events) {})
	if err := l.Watch(r, EventRead, h); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   func() error
		want error // nil: any error will do
	}{
		{name: "watch twice", op: func() error { return l.Watch(r, EventWrite, h) }, want: ErrWatched},
		{name: "no interest", op: func() error { return l.Watch(r+100, EventEdge, h) }, want: ErrBadEvents},
		{name: "modify no interest", op: func() error { return l.Modify(r, EventOneShot) }, want: ErrBadEvents},
		{name: "negative fd", op: func() error { return l.Watch(-1, EventRead, h) }},
		{name: "nil handler", op: func() error { return l.Watch(r+100, EventRead, nil) }},
		{name: "not an fd", op: func() error { return l.Watch(1<<20, EventRead, h) }},
		{name: "modify unwatched", op: func() error { return l.Modify(r+100, EventRead) }, want: ErrNotWatched},
		{name: "unwatch unwatched", op: func() error { return l.Unwatch(r + 100) }, want: ErrNotWatched},
		{name: "unwatch negative", op: func() error { return l.Unwatch(-5) }, want: ErrNotWatched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if s := l.Stats(); s.Watched != 1 {
		t.Fatalf("after failed calls Watched = %d, want 1", s.Watched)
	}
}

// TestUnwatchAfterClose: an fd closed before Unwatch has left the epoll set
// by itself; Unwatch still forgets it, and the number can be watched again.
func TestUnwatchAfterClose(t *testing.T) {
	l := newLoop(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	h := HandlerFunc(func(int, Events) {})
	l.Watch(p[0], EventRead, h)
	unix.Close(p[0])
	unix.Close(p[1])
	if err := l.Unwatch(p[0]); err != nil {
		t.Fatalf("Unwatch of a closed fd: %v", err)
	}
	r, _ := newPipe(t)
	if err := l.Watch(r, EventRead, h); err != nil {
		t.Fatalf("Watch of a reused number: %v", err)
	}
}

// TestTasksDoNotStarveIO: a task that resubmits itself forever must not keep
// a ready fd waiting.
func TestTasksDoNotStarveIO(t *testing.T) {
	l := newLoop(t, WithMaxTasksPerRound(8))
	var spin func()
	spin = func() { l.Submit(spin) }
	for i := 0; i < 100; i++ {
		l.Submit(spin)
	}
	r, w := newPipe(t)
	served := 0
	l.Watch(r, EventRead, HandlerFunc(func(int, Events) { served++; drain(t, r) }))
	writeByte(t, w)
	rounds(t, l, 3)
	if served != 1 {
		t.Fatalf("fd served %d times in 3 rounds behind a task flood, want 1", served)
	}
	if run := l.Stats().TasksRun; run != 24 {
		t.Fatalf("ran %d tasks in 3 rounds with a cap of 8", run)
	}
}

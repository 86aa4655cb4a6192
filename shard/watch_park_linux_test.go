//go:build linux

package shard

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// registered reports whether fd is in l's epoll set, asking the kernel
// without changing the answer: an add fails with EEXIST for a registered
// fd, and one that succeeds is undone.
func registered(t testing.TB, l *Loop, fd int) bool {
	t.Helper()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	err := unix.EpollCtl(l.poller.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	switch {
	case errors.Is(err, unix.EEXIST):
		return true
	case err == nil:
		if err := unix.EpollCtl(l.poller.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
			t.Fatalf("epoll_ctl DEL fd %d: %v", fd, err)
		}
		return false
	}
	t.Fatalf("epoll_ctl ADD fd %d: %v", fd, err)
	return false
}

// rawSocketpair is a non-blocking socketpair the test closes itself.
func rawSocketpair(t testing.TB) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	return fds
}

// TestHandover: the new handler gets the fd's reports for the new events,
// the old one none, and the registration is the same one.
func TestHandover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to Events
	}{
		{name: "write to read", from: EventWrite, to: EventRead},
		{name: "same events", from: EventRead, to: EventRead},
		{name: "read to both", from: EventRead, to: EventRead | EventWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			a, b := newSocketpair(t)
			var first, second recorder
			if err := l.Watch(a, tc.from, &first); err != nil {
				t.Fatal(err)
			}
			gen := l.watches.get(a).gen
			if err := l.Handover(a, tc.to, &second); err != nil {
				t.Fatalf("Handover: %v", err)
			}
			if ev, ok := l.Watching(a); !ok || ev != tc.to {
				t.Fatalf("Watching after Handover: %#x %v, want %#x true", uint32(ev), ok, uint32(tc.to))
			}
			if got := l.watches.get(a).gen; got != gen {
				t.Fatalf("generation %d after Handover, want %d kept", got, gen)
			}
			writeByte(t, b)
			rounds(t, l, 1)
			if first.calls != 0 {
				t.Fatalf("the first handler got %d reports after Handover", first.calls)
			}
			if second.calls != 1 || second.last&EventRead != 0 != (tc.to&EventRead != 0) {
				t.Fatalf("the second handler: %d reports, last %#x; want 1 matching %#x", second.calls, uint32(second.last), uint32(tc.to))
			}
			if s := l.Stats(); s.Watched != 1 {
				t.Fatalf("Watched = %d, want 1", s.Watched)
			}
		})
	}
}

func TestHandoverErrors(t *testing.T) {
	l := newLoop(t)
	a, _ := newSocketpair(t)
	var r recorder
	for _, tc := range []struct {
		name string
		op   func() error
		want error
	}{
		{name: "unwatched", op: func() error { return l.Handover(a, EventRead, &r) }, want: ErrNotWatched},
		{name: "no interest", op: func() error { return l.Handover(a, EventEdge, &r) }, want: ErrBadEvents},
		{name: "forget unwatched", op: func() error { return l.Forget(a) }, want: ErrNotWatched},
		{name: "park unwatched", op: func() error { return l.Park(a) }, want: ErrNotWatched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := l.Watch(a, EventRead, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Handover(a, EventRead, nil); err == nil {
		t.Fatal("Handover to a nil handler: no error")
	}
}

// TestForget: the watch is gone at once, the registration stays until the
// close, and the fd's number can be watched again after it.
func TestForget(t *testing.T) {
	l := newLoop(t)
	p := rawSocketpair(t)
	defer unix.Close(p[1])
	var r recorder
	if err := l.Watch(p[0], EventRead, &r); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(p[0]); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if _, ok := l.Watching(p[0]); ok {
		t.Fatal("still Watching after Forget")
	}
	if s := l.Stats(); s.Watched != 0 {
		t.Fatalf("Watched = %d after Forget, want 0", s.Watched)
	}
	if !registered(t, l, p[0]) {
		t.Fatal("Forget made a system call: the fd left the epoll set before its close")
	}
	writeByte(t, p[1])
	rounds(t, l, 1)
	if r.calls != 0 {
		t.Fatalf("%d reports after Forget", r.calls)
	}
	unix.Close(p[0])
	q0, q1 := newSocketpair(t) // likely p[0]'s number again
	_ = q1
	if err := l.Watch(q0, EventRead, &r); err != nil {
		t.Fatalf("Watch after Forget and close: %v", err)
	}
}

// TestPark: a parked fd gets no reports; its registration goes at the end
// of the round, or is reused by a Watch in the same round (one modify), or
// left to the close after Forget.
func TestPark(t *testing.T) {
	for _, tc := range []struct {
		name string
		// then runs after Park, in the same round; it reports whether the
		// fd ends up watched, and whether it ends up registered.
		then        func(t *testing.T, l *Loop, fd int, h Handler)
		watched     bool
		registered  bool
		wantReports bool
	}{
		{name: "deleted at the round's end", then: func(*testing.T, *Loop, int, Handler) {}},
		{name: "watched again", then: func(t *testing.T, l *Loop, fd int, h Handler) {
			if err := l.Watch(fd, EventRead, h); err != nil {
				t.Fatalf("Watch after Park: %v", err)
			}
		}, watched: true, registered: true, wantReports: true},
		{name: "forgotten", then: func(t *testing.T, l *Loop, fd int, _ Handler) {
			if err := l.Forget(fd); err != nil {
				t.Fatalf("Forget after Park: %v", err)
			}
		}, registered: true}, // the close would take it out; this test keeps it open
		{name: "parked twice", then: func(t *testing.T, l *Loop, fd int, h Handler) {
			if err := l.Watch(fd, EventRead, h); err != nil {
				t.Fatal(err)
			}
			if err := l.Park(fd); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			a, b := newSocketpair(t)
			var r recorder
			if err := l.Watch(a, EventRead, &r); err != nil {
				t.Fatal(err)
			}
			writeByte(t, b) // readable: a registration left in place would report it
			// Park from a task, as the engine parks from a callback: the
			// delete is queued behind it and runs in the same round.
			if err := l.Submit(func() {
				if err := l.Park(a); err != nil {
					t.Errorf("Park: %v", err)
					return
				}
				if _, ok := l.Watching(a); ok {
					t.Error("still Watching after Park")
				}
				tc.then(t, l, a, &r)
			}); err != nil {
				t.Fatal(err)
			}
			r.calls = 0
			rounds(t, l, 1)
			if _, ok := l.Watching(a); ok != tc.watched {
				t.Fatalf("Watching = %v, want %v", ok, tc.watched)
			}
			if got := registered(t, l, a); got != tc.registered {
				t.Fatalf("registered after the round = %v, want %v", got, tc.registered)
			}
			r.calls = 0
			rounds(t, l, 2)
			if (r.calls > 0) != tc.wantReports {
				t.Fatalf("%d reports in the rounds after, want some: %v", r.calls, tc.wantReports)
			}
			want := 0
			if tc.watched {
				want = 1
			}
			if s := l.Stats(); s.Watched != want {
				t.Fatalf("Watched = %d, want %d", s.Watched, want)
			}
		})
	}
}

// TestParkClosedReused: an fd parked, then closed and its number reused
// within the round, is watched again with an add (its old registration
// left with the close), and the parked delete does not remove the new one.
func TestParkClosedReused(t *testing.T) {
	l := newLoop(t)
	p := rawSocketpair(t)
	defer unix.Close(p[1])
	var r recorder
	if err := l.Watch(p[0], EventRead, &r); err != nil {
		t.Fatal(err)
	}
	var a, b int
	if err := l.Submit(func() {
		if err := l.Park(p[0]); err != nil {
			t.Errorf("Park: %v", err)
		}
		unix.Close(p[0])
		q := rawSocketpair(t)
		a, b = q[0], q[1]
		if err := l.Watch(a, EventRead, &r); err != nil {
			t.Errorf("Watch of the reused number: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	rounds(t, l, 1)
	if a == 0 {
		t.Fatal("the task did not run")
	}
	defer unix.Close(a)
	defer unix.Close(b)
	if a != p[0] {
		t.Logf("the kernel gave number %d, not %d: the reuse path was not taken", a, p[0])
	}
	r.calls = 0
	writeByte(t, b)
	rounds(t, l, 1)
	if r.calls != 1 {
		t.Fatalf("%d reports for the new socket, want 1", r.calls)
	}
}

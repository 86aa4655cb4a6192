package shard

import (
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBusyPollNoLostWake: tasks submitted from another goroutine at
// random moments around the end of the busy-poll window (when the loop goes
// from polling to sleeping) all run promptly, and a timer due during the
// window fires on time.
func TestBusyPollNoLostWake(t *testing.T) {
	const window = 200 * time.Microsecond
	l := newLoop(t, WithBusyPoll(window))
	var p [2]int
	p[0], p[1] = newPipe(t)
	watchDrain(t, l, p[0], nil)
	startRun(t, l)
	for i := 0; i < 3000; i++ {
		unix.Write(p[1], []byte("x")) // opens a busy window
		// Submit somewhere between inside the window and just after it.
		d := time.Duration(rand.IntN(int(3 * window)))
		for start := time.Now(); time.Since(start) < d; {
		}
		ran := make(chan struct{})
		if err := l.Submit(func() { close(ran) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ran:
		case <-time.After(2 * time.Second):
			t.Fatalf("task %d submitted %v after a ready fd never ran: lost wake-up", i, d)
		}
	}
	// A timer during busy polling fires on time.
	unix.Write(p[1], []byte("x"))
	fired := make(chan time.Time, 1)
	at := time.Now()
	done := make(chan struct{})
	if err := l.Submit(func() {
		l.AfterFunc(20*time.Millisecond, func() { fired <- time.Now() })
		close(done)
	}); err != nil {
		t.Fatal(err)
	}
	<-done
	select {
	case f := <-fired:
		if late := f.Sub(at) - 20*time.Millisecond; late > 15*time.Millisecond {
			t.Errorf("timer fired %v late", late)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("timer never fired")
	}
}

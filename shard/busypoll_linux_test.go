package shard

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBusyPoll: after a ready fd the loop keeps polling (rounds go on with
// nothing to do) for the busy-poll window, runs tasks submitted meanwhile
// without a wake-up, and then sleeps (rounds stop). Without the option it
// sleeps at once.
func TestBusyPoll(t *testing.T) {
	const window = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		opts []Option
		busy bool
	}{
		{name: "off", busy: false},
		{name: "200ms", opts: []Option{WithBusyPoll(window)}, busy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t, tc.opts...)
			var p [2]int
			p[0], p[1] = newPipe(t)
			read := make(chan struct{}, 1)
			watchDrain(t, l, p[0], read)
			startRun(t, l)
			unix.Write(p[1], []byte("x"))
			select {
			case <-read:
			case <-time.After(slack):
				t.Fatal("the pipe was never reported")
			}
			at := l.Stats().Iterations
			time.Sleep(window / 4)
			during := l.Stats().Iterations - at
			if tc.busy && during < 10 {
				t.Fatalf("%d rounds in the first quarter of the busy-poll window, want many", during)
			}
			if !tc.busy && during > 2 {
				t.Fatalf("%d rounds while idle without busy polling, want the loop asleep", during)
			}
			// A task submitted now runs: while polling, through the
			// queue alone; asleep, through the wake-up.
			ran := make(chan struct{})
			if err := l.Submit(func() { close(ran) }); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ran:
			case <-time.After(slack):
				t.Fatal("a task submitted during the busy poll never ran")
			}
			// After the window the loop sleeps: the rounds stop.
			time.Sleep(window + 100*time.Millisecond)
			at = l.Stats().Iterations
			time.Sleep(100 * time.Millisecond)
			if after := l.Stats().Iterations - at; after > 2 {
				t.Fatalf("%d rounds in 100 ms after the busy-poll window, want the loop asleep", after)
			}
		})
	}
}

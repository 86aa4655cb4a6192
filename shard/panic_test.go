//go:build linux

package shard

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPanicInCallback panics in each kind of callback: the hook sees the
// value and a stack naming the culprit, and the loop carries on.
func TestPanicInCallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(t *testing.T, l *Loop, cb func())
	}{
		{name: "task", arm: func(t *testing.T, l *Loop, cb func()) { l.Submit(cb) }},
		{name: "timer", arm: func(t *testing.T, l *Loop, cb func()) { l.AfterFunc(0, cb) }},
		{name: "periodic timer", arm: func(t *testing.T, l *Loop, cb func()) {
			var tm *Timer
			tm = l.Every(time.Millisecond, func() { tm.Stop(); cb() })
		}},
		{name: "fd handler", arm: func(t *testing.T, l *Loop, cb func()) {
			r, w := newPipe(t)
			writeByte(t, w)
			l.Watch(r, EventRead|EventOneShot, HandlerFunc(func(int, Events) { cb() }))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type report struct {
				v     any
				stack string
			}
			var got []report
			l := newLoop(t, WithPanicHandler(func(v any, stack []byte) {
				got = append(got, report{v, string(stack)})
			}))
			tc.arm(t, l, func() { panicky("boom") })
			// A second callback of the same kind, and a task, must still run.
			var after int
			tc.arm(t, l, func() { after++ })
			l.Submit(func() { after++ })
			deadline := time.Now().Add(slack)
			for after < 2 && time.Now().Before(deadline) {
				if err := l.RunOnce(true); err != nil {
					t.Fatalf("RunOnce: %v", err)
				}
			}
			if after != 2 {
				t.Fatalf("%d of 2 callbacks after the panic ran", after)
			}
			if len(got) != 1 || got[0].v != "boom" {
				t.Fatalf("panic hook saw %v, want one panic \"boom\"", got)
			}
			if !strings.Contains(got[0].stack, "panicky") {
				t.Fatalf("stack does not name the panicking function:\n%s", got[0].stack)
			}
			if p := l.Stats().Panics; p != 1 {
				t.Fatalf("Stats.Panics = %d, want 1", p)
			}
		})
	}
}

//go:noinline
func panicky(v any) { panic(v) }

// TestGoexitInCallback: runtime.Goexit cannot be recovered, so it ends Run's
// goroutine. It must do so once, leave the callback consumed (not retried on
// the next Run) and leave the loop usable.
func TestGoexitInCallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(t *testing.T, l *Loop, cb func())
	}{
		{name: "task", arm: func(t *testing.T, l *Loop, cb func()) { l.Submit(cb) }},
		{name: "timer", arm: func(t *testing.T, l *Loop, cb func()) { l.AfterFunc(0, cb) }},
		{name: "fd handler", arm: func(t *testing.T, l *Loop, cb func()) {
			r, w := newPipe(t)
			writeByte(t, w)
			l.Watch(r, EventRead|EventOneShot, HandlerFunc(func(int, Events) { cb() }))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			var calls atomic.Int32
			tc.arm(t, l, func() { calls.Add(1); runtime.Goexit() })
			done := make(chan struct{})
			go func() {
				defer close(done)
				l.Run()
			}()
			select {
			case <-done:
			case <-time.After(slack):
				t.Fatal("Run's goroutine did not end")
			}
			if s := l.Stats(); s.Lag != 0 {
				t.Errorf("Lag %v after Run ended: the round is still counted as running", s.Lag)
			}
			// Run again: the callback is not retried, and the loop works.
			done2 := startRun(t, l)
			onLoop(t, l, func() {})
			l.Exit(0)
			if err := waitRun(t, done2, slack); err != nil {
				t.Fatalf("Run after Goexit: %v", err)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("callback ran %d times, want 1", n)
			}
		})
	}
}

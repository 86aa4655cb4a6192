package blocking

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWakeNeverMissed: a change made under the mutex and then woken is
// seen, however the waker and the waiter interleave; a Wake with nobody
// parked is not kept, so the waiter relies on what it looks at, never on
// a stored wake-up.
func TestWakeNeverMissed(t *testing.T) {
	var mu sync.Mutex
	g := NewGate()
	g.Wake() // nobody parked: nothing happens, and nothing is stored
	const rounds = 2000
	var ready int // guarded by mu: rounds the waker has published
	done := make(chan struct{})
	go func() {
		defer close(done)
		mu.Lock()
		defer mu.Unlock()
		for seen := 0; seen < rounds; seen++ {
			for ready <= seen {
				g.Wait(&mu)
			}
		}
	}()
	for i := range rounds {
		mu.Lock()
		ready = i + 1
		mu.Unlock()
		g.Wake()
		if i%7 == 0 {
			g.Wake() // a second Wake for one change folds into the first
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a Wake after a change under the mutex was missed")
	}
}

// TestGateZeroValue: an embedded zero Gate parks and wakes like NewGate's.
func TestGateZeroValue(t *testing.T) {
	var s struct {
		mu   sync.Mutex
		gate Gate
		ok   bool
	}
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		for !s.ok {
			s.gate.Wait(&s.mu)
		}
		s.mu.Unlock()
		close(done)
	}()
	s.mu.Lock()
	s.ok = true
	s.mu.Unlock()
	s.gate.Wake()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the zero Gate's waiter was not woken")
	}
}

func TestDeadlines(t *testing.T) {
	var mu sync.Mutex
	g := NewGate()
	mu.Lock()
	defer mu.Unlock()

	g.SetDeadline(&mu, time.Now().Add(-time.Second))
	if !g.Expired() {
		t.Fatal("a past deadline did not expire the gate at once")
	}
	g.SetDeadline(&mu, time.Time{})
	if g.Expired() {
		t.Fatal("the zero time did not clear the deadline")
	}

	// A future deadline wakes a parked goroutine and expires the gate.
	g.SetDeadline(&mu, time.Now().Add(30*time.Millisecond))
	start := time.Now()
	for !g.Expired() {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the deadline never expired the gate")
		}
		g.Wait(&mu)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("expired after %v, before the deadline", d)
	}

	// A timer of a replaced deadline is ignored.
	g.SetDeadline(&mu, time.Now().Add(10*time.Millisecond))
	g.SetDeadline(&mu, time.Now().Add(time.Hour))
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if g.Expired() {
		t.Fatal("the replaced deadline's timer expired the gate")
	}
	g.Stop()
}

func TestGateParked(t *testing.T) {
	var mu sync.Mutex
	g := NewGate()
	mu.Lock()
	if g.Parked() {
		t.Fatal("a new gate reports a parked goroutine")
	}
	mu.Unlock()
	done := make(chan struct{})
	go func() {
		mu.Lock()
		g.Wait(&mu)
		mu.Unlock()
		close(done)
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		mu.Lock()
		parked := g.Parked()
		mu.Unlock()
		if parked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting goroutine never showed as parked")
		}
		time.Sleep(time.Millisecond)
	}
	g.Wake()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if g.Parked() {
		t.Fatal("still parked after the goroutine returned from the wait")
	}
}

func TestFlow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []func(f *Flow) bool
		want  []bool
	}{
		{
			name: "pauses past max, once",
			steps: []func(f *Flow) bool{
				func(f *Flow) bool { return f.Fed(100) },
				func(f *Flow) bool { return f.Fed(101) },
				func(f *Flow) bool { return f.Fed(500) },
			},
			want: []bool{false, true, false},
		},
		{
			name: "resumes at half, once",
			steps: []func(f *Flow) bool{
				func(f *Flow) bool { return f.Fed(200) },
				func(f *Flow) bool { return f.Took(51) },
				func(f *Flow) bool { return f.Took(50) },
				func(f *Flow) bool { return f.Took(0) },
			},
			want: []bool{true, false, true, false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFlow(100)
			for i, step := range tc.steps {
				if got := step(&f); got != tc.want[i] {
					t.Fatalf("step %d = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

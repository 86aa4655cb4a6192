package blocking

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWakeBeforeWaitIsKept(t *testing.T) {
	var mu sync.Mutex
	g := NewGate()
	g.Wake()
	g.Wake() // a second one folds into the first: Wake never blocks
	mu.Lock()
	done := make(chan struct{})
	go func() {
		g.Wait(&mu) // returns at once on the kept wake-up
		mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a Wake before Wait was lost")
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

func TestWaitFor(t *testing.T) {
	var mu sync.Mutex
	g := NewGate()
	mu.Lock()
	defer mu.Unlock()
	if g.WaitFor(&mu, 20*time.Millisecond) {
		t.Fatal("WaitFor reported a wake-up nobody sent")
	}
	g.Wake()
	if !g.WaitFor(&mu, time.Hour) {
		t.Fatal("WaitFor missed the wake-up")
	}
}

func TestGateParked(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(g *Gate, mu *sync.Mutex)
	}{
		{"Wait", func(g *Gate, mu *sync.Mutex) { g.Wait(mu) }},
		{"WaitFor", func(g *Gate, mu *sync.Mutex) { g.WaitFor(mu, time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
				tc.wait(g, &mu)
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
		})
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

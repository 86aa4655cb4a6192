package engine

import "testing"

// wakeUp runs one wake-up of an acceptor on a simulated backlog, as
// HandleEvents does: up to size() accept calls, the one after the last
// connection failing with EAGAIN. It returns the calls made and the
// connections taken.
func wakeUp(b *acceptBatch, backlog int) (calls, taken int) {
	n := b.size()
	if backlog < n {
		b.drained(backlog)
		return backlog + 1, backlog
	}
	b.filled()
	return n, n
}

// TestAcceptBatch walks acceptBatch through the wake-ups an acceptor meets:
// a burst doubles the limit up to acceptBatchMax, an EAGAIN sets it to
// what was found, the first full batch after that holds it, a larger batch
// that is full again doubles it at once, and one that found more than the
// old limit keeps the patience short.
func TestAcceptBatch(t *testing.T) {
	type step struct {
		drainedAt int // -1: the batch ended full
		want      int // size() after the step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"starts at one", nil},
		{"a burst doubles", []step{{-1, 2}, {-1, 4}, {-1, 8}, {-1, 16}}},
		{"bounded", []step{{-1, 2}, {-1, 4}, {-1, 8}, {-1, 16}, {-1, 32}, {-1, 64}, {-1, 128}, {-1, 256}, {-1, 256}, {-1, 256}}},
		{"EAGAIN sets it to what was found", []step{{-1, 2}, {-1, 4}, {-1, 8}, {3, 3}}},
		{"a spurious wake-up keeps one call", []step{{0, 1}, {0, 1}}},
		{"the first full batch after EAGAIN holds", []step{{-1, 2}, {-1, 4}, {2, 2}, {-1, 2}, {-1, 4}}},
		{"a larger batch full again doubles at once", []step{{3, 3}, {-1, 3}, {-1, 6}, {-1, 12}, {-1, 24}}},
		{"a try that found more keeps the patience short", []step{{1, 1}, {-1, 1}, {-1, 2}, {2, 2}, {-1, 2}, {-1, 4}}},
		{"a wasted try waits longer", []step{{1, 1}, {-1, 1}, {-1, 2}, {1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 2}}},
		{"shrinks after a burst", []step{{-1, 2}, {-1, 4}, {-1, 8}, {-1, 16}, {-1, 32}, {5, 5}, {1, 1}}},
		{"a found count above the bound", []step{{1000, acceptBatchMax}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b acceptBatch
			if got := b.size(); got != 1 {
				t.Fatalf("new batch size %d, want 1", got)
			}
			for i, s := range tc.steps {
				if s.drainedAt < 0 {
					b.filled()
				} else {
					b.drained(s.drainedAt)
				}
				if got := b.size(); got != s.want {
					t.Fatalf("step %d (%+v): size %d, want %d", i, s, got, s.want)
				}
			}
		})
	}
}

// TestAcceptBatchCalls counts accept calls per connection on simulated
// loads: wake-ups carrying one connection each (what a backlog drained
// until EAGAIN paid two calls for), a steady few, and a burst arriving in
// the middle of a long steady run, which must be taken in few wake-ups.
func TestAcceptBatchCalls(t *testing.T) {
	t.Run("one per wake-up", func(t *testing.T) {
		var b acceptBatch
		calls, conns := 0, 0
		for i := 0; i < 10000; i++ {
			c, n := wakeUp(&b, 1)
			calls, conns = calls+c, conns+n
		}
		t.Logf("%d calls for %d connections", calls, conns)
		if r := float64(calls) / float64(conns); r > 1+1.0/acceptPatienceMax {
			t.Errorf("%d calls for %d connections (%.3f each), want at most %.3f", calls, conns, r, 1+1.0/acceptPatienceMax)
		}
	})
	t.Run("five per wake-up", func(t *testing.T) {
		var b acceptBatch
		calls, conns := 0, 0
		for i := 0; i < 10000; i++ {
			// What a batch leaves waits for the next wake-up, as the
			// level-triggered listener has it.
			c, n := wakeUp(&b, 5+(5*i-conns))
			calls, conns = calls+c, conns+n
		}
		t.Logf("%d calls for %d connections", calls, conns)
		if waiting := 5*10000 - conns; waiting > acceptBatchMax {
			t.Errorf("%d connections left waiting after 10,000 wake-ups", waiting)
		}
		if r := float64(calls) / float64(conns); r > 1.02 {
			t.Errorf("%d calls for %d connections (%.3f each), want at most 1.02", calls, conns, r)
		}
	})
	t.Run("a burst after a steady run", func(t *testing.T) {
		var b acceptBatch
		for i := 0; i < 10000; i++ {
			wakeUp(&b, 1)
		}
		const burst = 5000
		backlog, wakeUps := burst, 0
		for backlog > 0 {
			_, n := wakeUp(&b, backlog)
			backlog -= n
			wakeUps++
		}
		t.Logf("a burst of %d after a steady run: %d wake-ups", burst, wakeUps)
		// The patience, the doublings up to the bound, then full batches;
		// draining until EAGAIN at 256 would take 20.
		if limit := acceptPatienceMax + 8 + burst/acceptBatchMax + 1; wakeUps > limit {
			t.Errorf("a burst of %d took %d wake-ups, want at most %d", burst, wakeUps, limit)
		}
	})
}

// FuzzAcceptBatch drives acceptBatch with any sequence of wake-ups: its
// size stays within [1, acceptBatchMax], a full batch never shrinks it and
// grows it at most twofold, an EAGAIN after n calls leaves exactly
// max(1, min(n, acceptBatchMax)), and the patience stays within its bound.
func FuzzAcceptBatch(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 3, 0xff, 0xff, 0xff, 0})
	f.Add([]byte{1, 0xff, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, seq []byte) {
		var b acceptBatch
		for i, v := range seq {
			before := b.size()
			if v == 0xff {
				b.filled()
				if got := b.size(); got < before || got > 2*before || got > acceptBatchMax {
					t.Fatalf("step %d: a full batch took the size from %d to %d", i, before, got)
				}
			} else {
				n := int(v) * 2 // up to 508: beyond the bound too
				b.drained(n)
				if got, want := b.size(), max(1, min(n, acceptBatchMax)); got != want {
					t.Fatalf("step %d: EAGAIN after %d calls left size %d, want %d", i, n, got, want)
				}
			}
			if b.patience < 0 || b.patience > acceptPatienceMax {
				t.Fatalf("step %d: patience %d outside [0, %d]", i, b.patience, acceptPatienceMax)
			}
		}
	})
}

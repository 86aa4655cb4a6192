package engine

import "testing"

// TestAcceptBatch walks acceptBatch through the wake-ups an acceptor meets:
// a burst grows the limit by doubling up to acceptBatchMax, a wake-up that
// meets EAGAIN sets it to what it found, and the first full batch after
// that keeps it.
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
		{"one connection per wake-up", []step{{1, 1}, {-1, 1}, {-1, 2}, {1, 1}, {-1, 1}}},
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

// FuzzAcceptBatch drives acceptBatch with any sequence of wake-ups: its
// size stays within [1, acceptBatchMax], a full batch never shrinks it and
// grows it at most twofold, and an EAGAIN after n calls leaves exactly
// max(1, min(n, acceptBatchMax)).
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
				continue
			}
			n := int(v) * 2 // up to 508: beyond the bound too
			b.drained(n)
			if got, want := b.size(), max(1, min(n, acceptBatchMax)); got != want {
				t.Fatalf("step %d: EAGAIN after %d calls left size %d, want %d", i, n, got, want)
			}
		}
	})
}

package engine

import (
	"testing"
	"time"
)

// TestLagBounds: the bounds ascend and numLagBounds, which sizes the
// histogram's array, counts them.
func TestLagBounds(t *testing.T) {
	b := lagBounds()
	if len(b) != numLagBounds {
		t.Fatalf("%d bounds, numLagBounds is %d", len(b), numLagBounds)
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			t.Fatalf("bound %d (%v) is not above bound %d (%v)", i, b[i], i-1, b[i-1])
		}
	}
}

// TestLagHistogramRecord: a sample lands in the first bucket whose bound
// is not below it (bounds are inclusive, as Prometheus's le), past the
// last bound in the overflow bucket; negative samples count as 0.
func TestLagHistogramRecord(t *testing.T) {
	bounds := lagBounds()
	for _, tc := range []struct {
		name   string
		sample time.Duration
		bucket int
	}{
		{"zero", 0, 0},
		{"negative", -time.Millisecond, 0},
		{"on the first bound", 100 * time.Microsecond, 0},
		{"just past the first bound", 100*time.Microsecond + 1, 1},
		{"one millisecond", time.Millisecond, 3},
		{"between 100 and 250 ms", 180 * time.Millisecond, 10},
		{"on the last bound", 5 * time.Second, numLagBounds - 1},
		{"past the last bound", time.Minute, numLagBounds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h lagHistogram
			h.record(tc.sample, bounds)
			s := h.snapshot(lagBounds())
			if s.Count != 1 || len(s.Counts) != numLagBounds+1 || s.Counts[tc.bucket] != 1 {
				t.Fatalf("sample %v: counts %v (count %d), want one in bucket %d", tc.sample, s.Counts, s.Count, tc.bucket)
			}
			if want := max(tc.sample, 0); s.Sum != want {
				t.Fatalf("sum %v, want %v", s.Sum, want)
			}
		})
	}
}

package engine

import (
	"errors"
	"testing"
	"time"
)

// TestReviewRejectLingerReason: a rejected connection whose peer never
// closes ends at the linger timeout. Handler.OnOpen's doc promises that
// OnClose's reason wraps ErrRejected and the handler's error.
func TestReviewRejectLingerReason(t *testing.T) {
	h := reviewRejecter{closed: make(chan error, 1)}
	_, addr := startEngine(t, h, WithShards(1), WithLingerTimeout(200*time.Millisecond))
	nc := dialT(t, "tcp", addr)
	_ = nc // never closed until cleanup
	select {
	case err := <-h.closed:
		if !errors.Is(err, ErrRejected) || !errors.Is(err, errReviewBusy) {
			t.Fatalf("OnClose reason %v, want ErrRejected wrapping errReviewBusy", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("OnClose never ran")
	}
}

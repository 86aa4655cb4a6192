package engine

import (
	"errors"
	"io"
	"testing"
	"time"
)

var errReviewBusy = errors.New("review: busy")

// reviewRejecter writes a line in OnOpen and refuses the connection.
type reviewRejecter struct {
	BaseHandler
	closed chan error
}

func (reviewRejecter) OnOpen(c *Conn) error {
	c.Write([]byte("busy\n"))
	return errReviewBusy
}

func (h reviewRejecter) OnClose(_ *Conn, err error) { h.closed <- err }

// TestReviewRejectStats: a rejected connection whose peer closes after
// reading the refusal gets exactly one OnClose wrapping ErrRejected, and
// the shard's counters end balanced (opened == closed, none live).
func TestReviewRejectStats(t *testing.T) {
	h := reviewRejecter{closed: make(chan error, 8)}
	e, addr := startEngine(t, h, WithShards(1))
	for range 5 {
		nc := dialT(t, "tcp", addr)
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil || string(got) != "busy\n" {
			t.Fatalf("read refusal: %q, %v", got, err)
		}
		nc.Close()
		select {
		case err := <-h.closed:
			if !errors.Is(err, ErrRejected) || !errors.Is(err, errReviewBusy) {
				t.Fatalf("OnClose reason %v, want ErrRejected wrapping errReviewBusy", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("OnClose never ran")
		}
	}
	if !waitFor(2*time.Second, func() bool {
		st := e.Stats().Shards[0]
		return st.Conns == 0 && st.Opened == 5 && st.Closed == 5 && e.Conns() == 0
	}) {
		t.Fatalf("stats after 5 rejections: %+v, Conns() %d", e.Stats().Shards[0], e.Conns())
	}
	select {
	case err := <-h.closed:
		t.Fatalf("a second OnClose: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

package netconn

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// wantEngineClosed checks that err, from a call the engine's own close
// woke, reads as a closed connection with the engine's reason, and never
// as a timeout of the caller's.
func wantEngineClosed(t *testing.T, what string, err error, reason error) {
	t.Helper()
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("%s: nil error", what)
	case !errors.Is(err, net.ErrClosed) || !errors.Is(err, reason):
		t.Fatalf("%s: %v; want net.ErrClosed and %v", what, err, reason)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("%s: %v reads as a deadline", what, err)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("%s: %v has Timeout() true", what, err)
	}
}

// TestEngineCloseIsNotATimeout: a Read parked when the engine closes the
// connection itself, for its idle timeout or for Stop (whose graceful
// close ends with the linger timeout here, the peer never closing), gets
// a closed-connection error that says why, not a timeout.
func TestEngineCloseIsNotATimeout(t *testing.T) {
	t.Run("idle timeout", func(t *testing.T) {
		s := startServer(t, nil, engine.WithIdleTimeout(100*time.Millisecond))
		_, ac := s.plainPair(t)
		_, err := ac.Read(make([]byte, 8))
		wantEngineClosed(t, "Read woken by the idle timeout", err, engine.ErrTimeout)
	})
	t.Run("Stop ending in the linger timeout", func(t *testing.T) {
		ln, e, err := Listen("tcp://127.0.0.1:0", nil, engine.WithShards(1), engine.WithLingerTimeout(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close() // open, silent: Stop's close lingers until its timeout
		ac, err := acceptT(t, ln)
		if err != nil {
			t.Fatal(err)
		}
		defer ac.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := ac.Read(make([]byte, 8))
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			wantEngineClosed(t, "Read woken by Stop", err, engine.ErrEngineStopped)
		case <-time.After(5 * time.Second):
			t.Fatal("Stop left the Read parked")
		}
	})
}

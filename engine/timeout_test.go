package engine

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestIdleTimeout: with a 200 ms idle timeout a silent connection is closed
// not before 200 ms and well within a second, with a timeout reason; one
// with traffic every 50 ms stays open for many intervals.
func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	tests := []struct {
		name string
		// every is the client's traffic period; 0 is silent.
		every time.Duration
		// talkFor is how long the client keeps talking before falling
		// silent.
		talkFor time.Duration
	}{
		{name: "silent"},
		{name: "active", every: 50 * time.Millisecond, talkFor: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRecHandler(1)
			_, addr := startEngine(t, h, WithShards(1), WithIdleTimeout(idle))
			start := time.Now() // before the server can know the conn
			nc := dialT(t, "tcp", addr)
			recvOpen(t, h)
			for i := 0; time.Since(start) < tc.talkFor; i++ {
				if !echoCheck(t, nc, i) {
					t.Fatalf("active connection failed after %v", time.Since(start))
				}
				time.Sleep(tc.every)
			}
			lastTraffic := time.Now()
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := nc.Read(make([]byte, 1))
			closedAfter := time.Since(lastTraffic)
			if !closedByPeer(err) {
				t.Fatalf("read: %v; want the server's close", err)
			}
			// One-sided: never early; late only by a generous slack.
			if tc.every == 0 && time.Since(start) < idle {
				t.Fatalf("closed after %v, before the %v idle timeout", time.Since(start), idle)
			}
			if closedAfter > time.Second {
				t.Fatalf("closed %v after the last traffic; want well within a second", closedAfter)
			}
			ev := recvClose(t, h)
			var ne net.Error
			if !errors.Is(ev.reason, ErrTimeout) || !errors.As(ev.reason, &ne) || !ne.Timeout() {
				t.Fatalf("OnClose reason %v; want a net.Error timeout matching ErrTimeout", ev.reason)
			}
		})
	}
}

package relay

import (
	"errors"
	"testing"

	"github.com/shardnet/shardnet/engine"
)

func TestWithRateLimitValidation(t *testing.T) {
	pool := mustPool(t, []string{"127.0.0.1:1"})
	for _, tc := range []struct {
		name             string
		perClient, total engine.RateLimit
		ok               bool
	}{
		{"off", engine.RateLimit{}, engine.RateLimit{}, true},
		{"both", engine.RateLimit{Rate: 10e6}, engine.RateLimit{Rate: 100e6}, true},
		{"negative rate", engine.RateLimit{Rate: -1}, engine.RateLimit{}, false},
		{"burst under a tick", engine.RateLimit{}, engine.RateLimit{Rate: 1e6, Burst: 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(WithPool(pool), WithRateLimit(tc.perClient, tc.total))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidOption)) {
				t.Fatalf("New: %v, want ok=%v (or ErrInvalidOption)", err, tc.ok)
			}
		})
	}
}

// TestRateLimitedPairsCopy relays 4 MiB through a splicing Proxy with
// rate limits high enough not to slow the test: the bytes come back
// intact, and none was spliced (the buckets must see every byte).
func TestRateLimitedPairsCopy(t *testing.T) {
	checkFds(t)
	be := startBackend(t, echo)
	p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(true),
		WithRateLimit(engine.RateLimit{Rate: 1 << 30}, engine.RateLimit{Rate: 1 << 31}))
	c := dial(t, p.addr)
	const size = 4 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(got) != size || string(got) != string(payload) {
		t.Fatalf("got %d bytes back, want the %d sent", len(got), size)
	}
	if s := p.px.Stats().Spliced; s != 0 {
		t.Fatalf("a rate-limited pair spliced %d bytes", s)
	}
}
